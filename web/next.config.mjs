/** @type {import('next').NextConfig} */
const nextConfig = {
  // Static export: `next build` writes plain files to out/, served by the Flask app at "/".
  output: "export",
  images: { unoptimized: true },
  poweredByHeader: false,
  reactStrictMode: true,
};

export default nextConfig;

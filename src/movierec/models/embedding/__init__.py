"""Neural embedding collaborative filtering: the net, its batches and losses, Lightning training."""

"""Recommenders behind one protocol (:mod:`movierec.models.protocol`): popularity, user-user, embedding."""

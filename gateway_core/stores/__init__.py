"""Stores: creating, listing and finding them."""

"""Storage behind one small protocol: ``base`` (the protocol and ``User``), ``sqlite`` (the embedded
default), ``redis`` (one Redis, Sentinel or Cluster, for several instances), ``open`` (the URL opener)."""
from .base import Store, User, user_to_dict
from .open import open_store
from .sqlite import SQLiteStore

__all__ = ["SQLiteStore", "Store", "User", "open_store", "user_to_dict"]

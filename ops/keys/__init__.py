"""Key management: key-encryption keys, wrapped data keys, and the keyring that joins them."""

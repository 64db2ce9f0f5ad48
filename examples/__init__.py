"""Programs of others that use the DMP through its published contracts only (none imports services.*)."""

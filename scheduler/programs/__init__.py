"""Programs: the configuration file's programs with the changes admins made on the site (``settings``)."""

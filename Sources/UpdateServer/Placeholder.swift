// UpdateServer: being written.

// Omaha: being written.

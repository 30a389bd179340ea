// Database: being written.

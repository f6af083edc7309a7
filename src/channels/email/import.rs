//! Importers: mbox files and Maildir folders (see `atalaya import`).

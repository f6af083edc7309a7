//! SMTP sending (being written).

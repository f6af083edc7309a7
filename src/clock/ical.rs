//! STUB (being written): all-day holidays from an iCalendar file.

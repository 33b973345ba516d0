//! Call components (play, collect, record, detect, fax, tap, send_digits) on the virtual clock.

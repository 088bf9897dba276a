//! Series joined into runs (written by the lead).

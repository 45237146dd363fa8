//! Operator commands' logic (the clap front end is in main.rs).

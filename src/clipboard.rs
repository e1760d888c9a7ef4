//! Clipboard delivery logic that needs no display: OSC 52 encoding (with tmux and GNU
//! screen passthrough) and the "does the clipboard still hold our value?" check.

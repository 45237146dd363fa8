//! Inputs real deployments produce that once gave a wrong result (what was trained, what `latest.json` names, what a re-upload does), on the local stack.

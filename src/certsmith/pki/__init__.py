"""PKI: keys, CSRs, certificate templates, signing, chains and encodings; pure, no I/O."""

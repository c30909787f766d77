// Package redact keeps other people's secrets out of cicdllm's training
// data. Repositories carry credentials; whatever is sent to the LLM, stored
// or exported can be memorised by a model and leak again. The package
// offers two defences:
//
//   - CredentialFile recognises files that are credentials by nature
//     (private keys, .env files, kubeconfigs with tokens, .npmrc with an
//     auth token, Terraform state, GCP service-account keys...), which must
//     not be read at all;
//   - Scanner.Redact replaces every secret it finds in a text with a typed
//     marker, <REDACTED:rule-id>, and reports what it removed (rule and
//     offsets, never the value). It runs before a chunk goes to the LLM, on
//     the LLM's answer, and again at export.
//
// # Rules
//
// The rules are gitleaks' default rule set, gitleaks.toml from gitleaks
// v8.30.1 (https://github.com/gitleaks/gitleaks), embedded unmodified and
// interpreted with gitleaks' semantics: keywords prefilter rules, the
// secret is the secretGroup (or first non-empty) capture group, entropy
// must exceed the rule's threshold, and the global and per-rule allowlists
// (regexes against the secret, match or line; stopwords; AND/OR
// conditions) spare a finding. gitleaks is Copyright (c) 2019 Zachary Rice
// and distributed under the MIT licence, reproduced in LICENSE.gitleaks.
// gitleaks itself is not imported; this package reads its rule file.
//
// extra.toml, in the same format, adds what gitleaks leaves out: passwords
// in URLs (url-password, which redacts the password only), AWS secret
// access keys, Azure storage keys and SAS signatures, Authorization
// headers outside curl, quoted passwords with punctuation, secret-named
// container environment variables, and e-mail addresses (only with
// Options.Emails).
//
// Deviations from gitleaks, each to redact more real secrets or fewer
// placeholders (details at the code):
//
//   - obvious placeholders are never redacted (${VAR}, {{ .Values.x }},
//     <your-key>, changeme, YOUR_API_KEY, example, dummy, runs of one
//     character; in the generic class also "test" and hex digests on lines
//     about hashes);
//   - a stopword spares a finding only where it reads as a word in the
//     secret (all lower, all upper or capitalised), not by chance inside a
//     random token;
//   - hex values in the generic class need entropy above 3.0, not 3.5
//     (hex caps entropy at 4 bits per character);
//   - a match rejected by the tests does not hide a real one that starts
//     inside it (for rules tried at keyword positions);
//   - rules with a path condition run without a path when their regex is
//     specific enough (see pathRuleApplies); gitleaks skips them.
//
// # Speed
//
// Every file of every repository goes through Redact, so the scan is
// built to be cheap: one Aho–Corasick pass finds all keywords; a rule runs
// only on the lines around its keywords (how many lines a match can span
// is read from the regex); rules whose matches begin with a keyword are
// tried only at keyword positions, anchored, after a byte-level check
// that an assignment can follow. Regexes are compiled once, in New, and a
// Scanner is safe for concurrent use.
package redact

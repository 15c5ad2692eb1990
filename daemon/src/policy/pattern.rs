//! Wildcard patterns for the Principal, Action and Resource elements and the StringLike operators.
//!
//! `*` matches any run of characters (including none) and `?` exactly one character. A literal
//! `*`, `?` or `$` is written `${*}`, `${?}` or `${$}`, the escapes AWS uses in policy variables.
//! The escape matters here because certificate subjects may legitimately contain `*` (a CN of
//! `*.example.com`): without it a statement naming such a principal would grant every subject the
//! pattern happens to match.

/// One compiled element of a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Char(char),
    AnyOne,
    AnyRun,
}

/// A compiled wildcard pattern that remembers how it was written, so documents round-trip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Pattern {
    source: String,
    tokens: Vec<Token>,
}

impl Pattern {
    /// Compiles `source`. The error text says what is wrong; the caller adds where.
    pub(super) fn compile(source: &str) -> Result<Self, String> {
        Ok(Self { source: source.to_owned(), tokens: tokenize(source)? })
    }

    /// Compiles an action pattern. Action names compare case-insensitively, as in AWS, so the
    /// pattern is folded once here and the requested action at match time.
    pub(super) fn compile_action(source: &str) -> Result<Self, String> {
        let tokens = tokenize(source)?
            .into_iter()
            .map(|token| match token {
                Token::Char(c) => Token::Char(c.to_ascii_lowercase()),
                other => other,
            })
            .collect();
        Ok(Self { source: source.to_owned(), tokens })
    }

    /// A pattern matching exactly `text`, for identities the daemon itself writes into a policy
    /// (a key's creator and administrators); its source is escaped so that it reads back alike.
    pub(super) fn literal(text: &str) -> Self {
        Self { source: escape(text), tokens: text.chars().map(Token::Char).collect() }
    }

    /// `prefix` followed by `*`. Callers pass lowercase prefixes when building action patterns.
    pub(super) fn starts_with(prefix: &str) -> Self {
        let mut tokens: Vec<Token> = prefix.chars().map(Token::Char).collect();
        tokens.push(Token::AnyRun);
        Self { source: format!("{}*", escape(prefix)), tokens }
    }

    /// The pattern as written in the document.
    pub(super) fn source(&self) -> &str {
        &self.source
    }

    /// Whether `text` matches, case-sensitively.
    pub(super) fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        glob(&self.tokens, &text)
    }

    /// Whether the action name `action` matches, ignoring ASCII case.
    pub(super) fn matches_action(&self, action: &str) -> bool {
        self.matches(&action.to_ascii_lowercase())
    }
}

/// Writes `literal` as pattern source that matches exactly it.
fn escape(literal: &str) -> String {
    let mut escaped = String::with_capacity(literal.len());
    for c in literal.chars() {
        match c {
            '*' | '?' | '$' => {
                escaped.push_str("${");
                escaped.push(c);
                escaped.push('}');
            }
            _ => escaped.push(c),
        }
    }
    escaped
}

/// Splits a pattern into tokens, resolving the `${…}` escapes. Any other `${…}` is refused rather
/// than taken literally, so that a document written for a future policy-variable syntax cannot
/// silently mean something else today.
fn tokenize(source: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        let token = match c {
            '*' => Token::AnyRun,
            '?' => Token::AnyOne,
            '$' if chars.peek() == Some(&'{') => {
                chars.next();
                let mut inner = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    inner.push(c);
                }
                escaped_char(&inner, closed, source)?
            }
            _ => Token::Char(c),
        };
        tokens.push(token);
    }
    Ok(tokens)
}

/// Resolves the inside of a `${…}` escape to the literal character it stands for.
fn escaped_char(inner: &str, closed: bool, source: &str) -> Result<Token, String> {
    match (closed, inner) {
        (true, "*") => Ok(Token::Char('*')),
        (true, "?") => Ok(Token::Char('?')),
        (true, "$") => Ok(Token::Char('$')),
        (false, _) => Err(format!("unterminated \"${{\" in {source:?}")),
        (true, _) => Err(format!(
            "unsupported variable \"${{{inner}}}\" in {source:?} (only ${{*}}, ${{?}} and ${{$}} are \
             allowed, as escapes for a literal *, ? or $)"
        )),
    }
}

/// Iterative wildcard matching with single-star backtracking: on a mismatch, the most recent `*`
/// absorbs one more character. This is linear in practice and at worst O(pattern × text), which
/// the 32 KiB document limit keeps small; no recursion, so no stack-depth risk.
fn glob(tokens: &[Token], text: &[char]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    // (token index after the last `*`, text index that `*` currently stops at)
    let mut backtrack: Option<(usize, usize)> = None;
    while let Some(&ch) = text.get(t) {
        match tokens.get(p) {
            Some(Token::AnyRun) => {
                backtrack = Some((p + 1, t));
                p += 1;
            }
            Some(Token::AnyOne) => {
                p += 1;
                t += 1;
            }
            Some(Token::Char(c)) if *c == ch => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((after_star, stop)) => {
                    backtrack = Some((after_star, stop + 1));
                    p = after_star;
                    t = stop + 1;
                }
                None => return false,
            },
        }
    }
    tokens.get(p..).unwrap_or(&[]).iter().all(|token| *token == Token::AnyRun)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        Pattern::compile(pattern).unwrap().matches(text)
    }

    #[test]
    fn star_and_question_mark() {
        assert!(matches("*", ""));
        assert!(matches("*", "anything"));
        assert!(matches("alias/app-*", "alias/app-"));
        assert!(matches("alias/app-*", "alias/app-orders"));
        assert!(!matches("alias/app-*", "alias/ap-orders"));
        assert!(matches("a*b*c", "aXXbYYbZc"));
        assert!(!matches("a*b*c", "aXXbYYbZ"));
        assert!(matches("uid:100?", "uid:1001"));
        assert!(!matches("uid:100?", "uid:100"));
        assert!(!matches("uid:100?", "uid:10012"));
        assert!(matches("??", "éü"), "? is one character, not one byte");
        assert!(matches("**a", "a"));
    }

    #[test]
    fn values_are_case_sensitive_and_actions_are_not() {
        assert!(!matches("Tenant", "tenant"));
        let action = Pattern::compile_action("arca:Generate*").unwrap();
        assert!(action.matches_action("ARCA:generatedatakey"));
        assert!(!action.matches_action("arca:Encrypt"));
    }

    #[test]
    fn escapes_match_literally() {
        let subject = "cert:CN=*.example.com,O=W?ird$";
        let pattern = Pattern::compile(&escape(subject)).unwrap();
        assert_eq!(pattern, Pattern::literal(subject), "the escaped source reads back alike");
        assert!(pattern.matches(subject));
        assert!(!pattern.matches("cert:CN=evil.example.com,O=W?ird$"));
        assert!(!pattern.matches("cert:CN=*.example.com,O=Weird$"));
        assert!(matches("price$5", "price$5"), "a lone $ is literal");
    }

    #[test]
    fn unknown_variables_are_refused() {
        let err = Pattern::compile("uid:${aws:username}").unwrap_err();
        assert!(err.contains("${aws:username}"), "{err}");
        assert!(Pattern::compile("x${*").is_err(), "an unterminated escape is refused");
    }
}

//! Parses the text of a GitHub Actions expression (what stands inside `${{ }}`) into a tree.

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(serde_json::Value),
    /// A context named at the top, e.g. `github`.
    Context(String),
    /// `base.name`.
    Property(Box<Expr>, String),
    /// `base[index]`.
    Index(Box<Expr>, Box<Expr>),
    /// `base.*`: the values of an object, or the elements of an array.
    Star(Box<Expr>),
    Call(String, Vec<Expr>),
    Not(Box<Expr>),
    Binary(Op, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Expr {
    /// Whether the expression calls a status function, which makes an `if:` stand as written
    /// instead of being read as `success() && (...)`.
    pub fn calls_status_function(&self) -> bool {
        match self {
            Expr::Call(name, args) => {
                ["always", "success", "failure", "cancelled"]
                    .iter()
                    .any(|status| name.eq_ignore_ascii_case(status))
                    || args.iter().any(Expr::calls_status_function)
            }
            Expr::Property(base, _) | Expr::Star(base) | Expr::Not(base) => {
                base.calls_status_function()
            }
            Expr::Index(base, index) | Expr::Binary(_, base, index) => {
                base.calls_status_function() || index.calls_status_function()
            }
            Expr::Literal(_) | Expr::Context(_) => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Number(f64),
    Str(String),
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Dot,
    Comma,
    Star,
    Not,
    Op(Op),
}

/// Parses `text`, or says why it is not an expression.
pub fn parse(text: &str) -> Result<Expr, String> {
    let tokens = tokenize(text)?;
    let mut parser = Parser { tokens, at: 0 };
    let expr = parser.or()?;
    match parser.tokens.get(parser.at) {
        None => Ok(expr),
        Some(token) => Err(format!("unexpected {token:?} in `{text}`")),
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let two = |token| (token, 2);
        let (token, width) = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => (Token::Open, 1),
            ')' => (Token::Close, 1),
            '[' => (Token::OpenBracket, 1),
            ']' => (Token::CloseBracket, 1),
            '.' => (Token::Dot, 1),
            ',' => (Token::Comma, 1),
            '*' => (Token::Star, 1),
            '|' if next == Some('|') => two(Token::Op(Op::Or)),
            '&' if next == Some('&') => two(Token::Op(Op::And)),
            '=' if next == Some('=') => two(Token::Op(Op::Eq)),
            '!' if next == Some('=') => two(Token::Op(Op::Ne)),
            '<' if next == Some('=') => two(Token::Op(Op::Le)),
            '>' if next == Some('=') => two(Token::Op(Op::Ge)),
            '!' => (Token::Not, 1),
            '<' => (Token::Op(Op::Lt), 1),
            '>' => (Token::Op(Op::Gt), 1),
            '\'' => {
                let mut value = String::new();
                let mut j = i + 1;
                loop {
                    match chars.get(j) {
                        None => return Err(format!("unterminated string in `{text}`")),
                        Some('\'') if chars.get(j + 1) == Some(&'\'') => {
                            value.push('\'');
                            j += 2;
                        }
                        Some('\'') => break,
                        Some(c) => {
                            value.push(*c);
                            j += 1;
                        }
                    }
                }
                (Token::Str(value), j + 1 - i)
            }
            c if c.is_ascii_digit() || (c == '-' && next.is_some_and(|n| n.is_ascii_digit())) => {
                let mut j = i + 1;
                while let Some(&d) = chars.get(j) {
                    let exponent_sign = (d == '+' || d == '-') && matches!(chars[j - 1], 'e' | 'E');
                    if d.is_ascii_alphanumeric() || d == '.' || exponent_sign {
                        j += 1;
                    } else {
                        break;
                    }
                }
                let literal: String = chars[i..j].iter().collect();
                (Token::Number(parse_number(&literal)?), j - i)
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut j = i + 1;
                while chars
                    .get(j)
                    .is_some_and(|d| d.is_ascii_alphanumeric() || *d == '_' || *d == '-')
                {
                    j += 1;
                }
                (Token::Ident(chars[i..j].iter().collect()), j - i)
            }
            other => return Err(format!("unexpected `{other}` in `{text}`")),
        };
        tokens.push(token);
        i += width;
    }
    Ok(tokens)
}

fn parse_number(literal: &str) -> Result<f64, String> {
    let (negative, digits) = match literal.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, literal),
    };
    let value = match digits.strip_prefix("0x") {
        Some(hex) => i64::from_str_radix(hex, 16).ok().map(|n| n as f64),
        None => digits.parse::<f64>().ok(),
    };
    let value = value.ok_or_else(|| format!("not a number: `{literal}`"))?;
    Ok(if negative { -value } else { value })
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn expect(&mut self, want: Token) -> Result<(), String> {
        match self.next() {
            Some(token) if token == want => Ok(()),
            other => Err(format!("expected {want:?}, found {other:?}")),
        }
    }

    fn binary(
        &mut self,
        ops: &[Op],
        operand: fn(&mut Parser) -> Result<Expr, String>,
    ) -> Result<Expr, String> {
        let mut left = operand(self)?;
        while let Some(Token::Op(op)) = self.peek().cloned() {
            if !ops.contains(&op) {
                break;
            }
            self.at += 1;
            let right = operand(self)?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn or(&mut self) -> Result<Expr, String> {
        self.binary(&[Op::Or], Parser::and)
    }

    fn and(&mut self) -> Result<Expr, String> {
        self.binary(&[Op::And], Parser::equality)
    }

    fn equality(&mut self) -> Result<Expr, String> {
        self.binary(&[Op::Eq, Op::Ne], Parser::comparison)
    }

    fn comparison(&mut self) -> Result<Expr, String> {
        self.binary(&[Op::Lt, Op::Le, Op::Gt, Op::Ge], Parser::unary)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek() == Some(&Token::Not) {
            self.at += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, String> {
        let mut expr = self.primary()?;
        loop {
            match self.peek() {
                Some(Token::Dot) => {
                    self.at += 1;
                    expr = match self.next() {
                        Some(Token::Ident(name)) => Expr::Property(Box::new(expr), name),
                        Some(Token::Star) => Expr::Star(Box::new(expr)),
                        other => return Err(format!("expected a property name, found {other:?}")),
                    };
                }
                Some(Token::OpenBracket) => {
                    self.at += 1;
                    let index = if self.peek() == Some(&Token::Star) {
                        self.at += 1;
                        None
                    } else {
                        Some(self.or()?)
                    };
                    self.expect(Token::CloseBracket)?;
                    expr = match index {
                        Some(index) => Expr::Index(Box::new(expr), Box::new(index)),
                        None => Expr::Star(Box::new(expr)),
                    };
                }
                _ => return Ok(expr),
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Token::Number(n)) => Ok(Expr::Literal(number(n))),
            Some(Token::Str(s)) => Ok(Expr::Literal(serde_json::Value::String(s))),
            Some(Token::Open) => {
                let expr = self.or()?;
                self.expect(Token::Close)?;
                Ok(expr)
            }
            Some(Token::Ident(name)) => match name.as_str() {
                "true" => Ok(Expr::Literal(true.into())),
                "false" => Ok(Expr::Literal(false.into())),
                "null" => Ok(Expr::Literal(serde_json::Value::Null)),
                _ if self.peek() == Some(&Token::Open) => {
                    self.at += 1;
                    let mut args = Vec::new();
                    if self.peek() != Some(&Token::Close) {
                        args.push(self.or()?);
                        while self.peek() == Some(&Token::Comma) {
                            self.at += 1;
                            args.push(self.or()?);
                        }
                    }
                    self.expect(Token::Close)?;
                    Ok(Expr::Call(name, args))
                }
                _ => Ok(Expr::Context(name)),
            },
            other => Err(format!("expected a value, found {other:?}")),
        }
    }
}

/// A JSON number for `n` (NaN and the infinities, which JSON lacks, become null).
pub fn number(n: f64) -> serde_json::Value {
    serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_puts_and_above_or_and_not_above_equality() {
        let parsed = parse("!a == b || c && d").unwrap();
        let Expr::Binary(Op::Or, left, right) = parsed else {
            panic!("{parsed:?}")
        };
        assert!(matches!(*left, Expr::Binary(Op::Eq, ref not, _) if matches!(**not, Expr::Not(_))));
        assert!(matches!(*right, Expr::Binary(Op::And, _, _)));
    }

    #[test]
    fn literals_and_paths() {
        assert_eq!(parse("'it''s'").unwrap(), Expr::Literal("it's".into()));
        assert_eq!(parse("-2").unwrap(), Expr::Literal(number(-2.0)));
        assert_eq!(parse("0xff").unwrap(), Expr::Literal(number(255.0)));
        assert_eq!(
            parse("github.event.inputs['force-x']").unwrap(),
            Expr::Index(
                Box::new(Expr::Property(
                    Box::new(Expr::Property(
                        Box::new(Expr::Context("github".into())),
                        "event".into()
                    )),
                    "inputs".into()
                )),
                Box::new(Expr::Literal("force-x".into()))
            )
        );
        assert!(parse("a ==").is_err());
        assert!(parse("'open").is_err());
        assert!(parse("a b").is_err());
    }

    #[test]
    fn status_functions_are_found_anywhere() {
        assert!(parse("always()").unwrap().calls_status_function());
        assert!(parse("!cancelled() && x").unwrap().calls_status_function());
        assert!(!parse("inputs.force").unwrap().calls_status_function());
    }
}

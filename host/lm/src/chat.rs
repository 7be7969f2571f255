//! Chat templates (Jinja, as in `tokenizer_config.json` or GGUF's `tokenizer.chat_template`)
//! rendered with minijinja in the settings transformers uses: trimmed blocks, Python
//! string methods, `raise_exception`.

use std::path::{Path, PathBuf};

use minijinja::{Environment, Error, ErrorKind, context};
use serde::Serialize;

use crate::error::{LmError, Result};

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl Message {
    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Message {
            role: "user".into(),
            content: content.into(),
        }
    }
}

/// A model's chat template.
#[derive(Debug, Clone)]
pub struct ChatTemplate {
    source: String,
    bos_token: String,
    eos_token: String,
    path: PathBuf,
}

impl ChatTemplate {
    /// A template with the special-token strings it may refer to.
    pub fn new(path: &Path, source: String, bos_token: String, eos_token: String) -> Self {
        ChatTemplate {
            source,
            bos_token,
            eos_token,
            path: path.to_path_buf(),
        }
    }

    /// The Jinja source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The BOS token string the template may refer to.
    pub fn bos_token(&self) -> &str {
        &self.bos_token
    }

    /// The EOS token string the template may refer to.
    pub fn eos_token(&self) -> &str {
        &self.eos_token
    }

    /// Render `messages`, ending with the assistant's turn header when `add_generation_prompt`.
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |msg: String| -> std::result::Result<String, Error> {
                Err(Error::new(ErrorKind::InvalidOperation, msg))
            },
        );
        let err = |e: Error| LmError::ChatTemplate {
            path: self.path.clone(),
            detail: format!("{e:#}"),
        };
        env.add_template("chat", &self.source).map_err(err)?;
        let tmpl = env.get_template("chat").map_err(err)?;
        tmpl.render(context! {
            messages => messages,
            add_generation_prompt => add_generation_prompt,
            bos_token => self.bos_token,
            eos_token => self.eos_token,
        })
        .map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHATML: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are helpful.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    #[test]
    fn chatml_renders_with_a_default_system_turn() {
        let t = ChatTemplate::new(Path::new("m"), CHATML.into(), String::new(), String::new());
        let s = t.render(&[Message::user("Hi")], true).unwrap();
        assert_eq!(
            s,
            "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn python_methods_and_block_trimming_work_like_transformers() {
        // As jinja2 renders it for transformers: the newline after a block tag is
        // dropped, indentation before a block tag too, before a `{{` not.
        let src =
            "{% for m in messages %}\n  {{ bos_token }}{{ m.content.strip() }}\n  {% endfor %}";
        let t = ChatTemplate::new(Path::new("m"), src.into(), "<s>".into(), String::new());
        assert_eq!(
            t.render(&[Message::user("  x  ")], false).unwrap(),
            "  <s>x\n"
        );
    }

    #[test]
    fn raise_exception_and_syntax_errors_name_the_model() {
        let t = ChatTemplate::new(
            Path::new("mdir"),
            "{{ raise_exception('no system role') }}".into(),
            String::new(),
            String::new(),
        );
        let e = t
            .render(&[Message::user("x")], true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("mdir") && e.contains("no system role"), "{e}");
        let t = ChatTemplate::new(
            Path::new("mdir"),
            "{% for %}".into(),
            String::new(),
            String::new(),
        );
        assert!(
            t.render(&[], true)
                .unwrap_err()
                .to_string()
                .contains("chat template")
        );
    }
}

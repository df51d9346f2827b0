//! For tests of documents made with this crate: SVG checked to be well-formed, and its text.
//! It panics on a malformed document, as a test assertion does.

/// The text of every element of `doc`, unescaped, after checking that `doc` is one
/// well-formed `<svg>` element: tags nest and close, attribute values are quoted, and text
/// holds no `<` and no `&` outside an entity.
pub fn svg_texts(doc: &str) -> Vec<String> {
    let unescape = |s: &str| {
        let mut rest = s;
        while let Some(i) = rest.find('&') {
            let entity = &rest[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                    .iter()
                    .any(|e| entity.starts_with(e)),
                "bare & in {s:?}"
            );
            rest = &rest[i + 1..];
        }
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&")
    };
    let mut stack: Vec<&str> = Vec::new();
    let mut roots = 0;
    let mut texts = Vec::new();
    let mut rest = doc.trim();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('<') {
            let end = after.find('>').expect("a tag is not closed");
            let tag = &after[..end];
            rest = &after[end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop(), Some(name), "</{name}> closes another element");
                continue;
            }
            let body = tag.strip_suffix('/').unwrap_or(tag);
            let name = body
                .split_whitespace()
                .next()
                .expect("a tag without a name");
            let mut attrs = body[name.len()..].trim_start();
            while !attrs.is_empty() {
                let (key, value) = attrs.split_once('=').expect("an attribute without =");
                assert!(
                    !key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || c == '-'),
                    "bad attribute name {key:?} in <{tag}>"
                );
                let value = value.strip_prefix('"').expect("an unquoted attribute");
                let close = value.find('"').expect("an attribute value is not closed");
                unescape(&value[..close]);
                attrs = value[close + 1..].trim_start();
            }
            if stack.is_empty() {
                roots += 1;
                assert_eq!(name, "svg", "the root element is <{name}>");
                assert!(body.contains("xmlns=\"http://www.w3.org/2000/svg\""));
            }
            if !tag.ends_with('/') {
                stack.push(name);
            }
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            let text = rest[..end].trim();
            assert!(!stack.is_empty() || text.is_empty(), "text outside <svg>");
            if !text.is_empty() {
                texts.push(unescape(text));
            }
            rest = &rest[end..];
        }
    }
    assert!(stack.is_empty(), "unclosed elements {stack:?}");
    assert_eq!(roots, 1, "not one root element");
    texts
}

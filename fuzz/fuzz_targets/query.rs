//! `cargo fuzz run query`: the search query parser on arbitrary UTF-8.
//! `parse` must never panic, and what it returns must keep its promises:
//! errors point inside the query and say something; trees are flattened
//! (`And`/`Or` have 2+ children, none of their own kind), words are non-empty
//! without whitespace, prefixes have 2+ characters, phrases are non-empty and
//! collapsed, and the whole query is never only exclusions.
#![no_main]

use atalaya::index::query::{MAX_DEPTH, Node, Value, parse};
use libfuzzer_sys::fuzz_target;

fn check(q: &str, node: &Node, depth: usize) {
    // Parentheses deeper than MAX_DEPTH are rejected; each level of the tree
    // is at most a group, a negation and an And/Or under it.
    assert!(depth <= 3 * (MAX_DEPTH + 1), "{q:?}: tree too deep");
    match node {
        Node::And(children) | Node::Or(children) => {
            assert!(children.len() >= 2, "{q:?}: {node:?}");
            for child in children {
                let same = matches!(
                    (node, child),
                    (Node::And(_), Node::And(_)) | (Node::Or(_), Node::Or(_))
                );
                assert!(!same, "{q:?}: not flattened: {node:?}");
                check(q, child, depth + 1);
            }
        }
        Node::Not(inner) => check(q, inner, depth + 1),
        Node::Word(w) => {
            assert!(!w.is_empty(), "{q:?}");
            assert!(!w.contains(char::is_whitespace), "{q:?}: {w:?}");
            assert!(!w.contains(['"', '(', ')']), "{q:?}: {w:?}");
            assert!(w != "OR", "{q:?}");
        }
        Node::Prefix(p) => assert!(p.chars().count() >= 2, "{q:?}: {p:?}"),
        Node::Phrase(p) => {
            assert!(!p.is_empty(), "{q:?}");
            assert_eq!(
                p.split_whitespace().collect::<Vec<_>>().join(" "),
                *p,
                "{q:?}"
            );
        }
        Node::Field(_, Value::Text(t)) => assert!(!t.is_empty(), "{q:?}"),
        Node::Field(_, Value::Priority(n)) => assert!((1..=4).contains(n), "{q:?}"),
        Node::Field(..) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(q) = std::str::from_utf8(data) else {
        return;
    };
    match parse(q) {
        Ok(node) => {
            assert!(!node.is_negative_only(), "{q:?}");
            check(q, &node, 0);
            let _ = node.fields();
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            assert!(
                !e.expected.is_empty() && !e.found.is_empty(),
                "{q:?}: {e:?}"
            );
            assert!(e.position <= q.chars().count(), "{q:?}: {e:?}");
        }
    }
});

//! Writes trace records as text lines or JSON objects, after the filters.

use std::fmt::Write as _;
use std::io::Write;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::analyze::event_opcode;
use super::record::{
    opcode_name, CloseInfo, Dir, Event, FrameRecord, MessageRecord, Preview, Record,
};

/// How records are shown, and which.
#[derive(Clone, Debug, Default)]
pub(super) struct Output {
    /// One JSON object per line instead of text.
    pub json: bool,
    /// Whole messages instead of frames.
    pub messages: bool,
    /// Only this direction.
    pub direction: Option<Dir>,
    /// Only these opcodes (frames and messages; other records are kept).
    pub opcodes: Vec<String>,
}

impl Output {
    /// Whether a record passes the filters and the frame/message choice.
    pub(super) fn shows(&self, record: &Record) -> bool {
        if self.direction.is_some() && record.dir.is_some() && record.dir != self.direction {
            return false;
        }
        match &record.event {
            Event::Frame(_) if self.messages => return false,
            Event::Message(_) if !self.messages => return false,
            _ => {}
        }
        match event_opcode(&record.event) {
            Some(name) if !self.opcodes.is_empty() => self.opcodes.contains(&name),
            _ => true,
        }
    }

    /// Writes the records that pass the filters.
    pub(super) fn write(&self, records: &[Record], out: &mut impl Write) -> std::io::Result<()> {
        for record in records.iter().filter(|r| self.shows(r)) {
            if self.json {
                writeln!(out, "{}", to_json(record))?;
            } else {
                writeln!(out, "{}", to_text(record))?;
            }
        }
        Ok(())
    }
}

/// `HH:MM:SS.micros`, UTC.
fn clock(time: Duration) -> String {
    let secs = time.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        time.subsec_micros()
    )
}

/// One record as a line of text (a head takes one line per header).
pub(super) fn to_text(record: &Record) -> String {
    let mut line = format!("{} #{}", clock(record.time), record.conn);
    if let Some(dir) = record.dir {
        line.push(' ');
        line.push_str(dir.arrow());
    }
    match &record.event {
        Event::Open { client, server } => {
            let _ = write!(line, " open {client} -> {server}");
        }
        Event::Head(head) => {
            for (i, header) in head.lines().enumerate() {
                line.push_str(if i == 0 { " " } else { "\n    " });
                line.push_str(header);
            }
        }
        Event::Frame(frame) => frame_text(&mut line, frame),
        Event::Message(message) => message_text(&mut line, message),
        Event::Note(text) => {
            let _ = write!(line, " -- {text}");
        }
    }
    line
}

fn frame_text(line: &mut String, f: &FrameRecord) {
    let rsv: String = f.rsv.iter().map(|&b| if b { '1' } else { '0' }).collect();
    let _ = write!(
        line,
        " {} rsv={rsv} {:<6}",
        if f.fin { "FIN" } else { "---" },
        opcode_name(f.opcode)
    );
    match f.mask {
        Some(key) => {
            let _ = write!(line, " mask={}", hex(&key));
        }
        None => line.push_str(" unmasked"),
    }
    let _ = write!(line, " len={} ({})", f.len, f.len_encoding.name());
    if let Some(inflated) = f.inflated {
        let _ = write!(line, " deflate {}->{inflated}", f.len);
        if f.inflate_cut {
            line.push_str(" (inflating cut there)");
        }
    }
    tail_text(line, f.close.as_ref(), f.preview.as_ref(), &f.violations);
}

fn message_text(line: &mut String, m: &MessageRecord) {
    let _ = write!(
        line,
        " {:<6} {} bytes in {} frame{}",
        opcode_name(m.opcode),
        m.len,
        m.frames,
        if m.frames == 1 { "" } else { "s" }
    );
    if let Some(inflated) = m.inflated {
        let _ = write!(line, " deflate {}->{inflated}", m.len);
        if m.inflate_cut {
            line.push_str(" (inflating cut there)");
        }
    }
    tail_text(line, m.close.as_ref(), m.preview.as_ref(), &m.violations);
}

fn tail_text(
    line: &mut String,
    close: Option<&CloseInfo>,
    preview: Option<&Preview>,
    violations: &[super::record::Violation],
) {
    match close {
        Some(CloseInfo {
            code: Some(code),
            reason,
        }) => {
            let _ = write!(line, " code={code} reason={reason:?}");
        }
        Some(CloseInfo { code: None, .. }) => line.push_str(" (no code)"),
        None => match preview {
            Some(Preview::Text { text, cut }) => {
                let _ = write!(line, " {text:?}{}", if *cut { "..." } else { "" });
            }
            Some(Preview::Binary { bytes, cut }) => {
                let _ = write!(line, " {}{}", hex(bytes), if *cut { "..." } else { "" });
            }
            None => {}
        },
    }
    if !violations.is_empty() {
        let all: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
        let _ = write!(line, "  !! {}", all.join("; "));
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// One record as a JSON object.
pub(super) fn to_json(record: &Record) -> Value {
    let mut o = Map::new();
    o.insert("time".into(), json!(clock(record.time)));
    o.insert("ts".into(), json!(record.time.as_secs_f64()));
    o.insert("conn".into(), json!(record.conn));
    if let Some(dir) = record.dir {
        o.insert("from".into(), json!(dir.sender()));
    }
    match &record.event {
        Event::Open { client, server } => {
            o.insert("event".into(), json!("open"));
            o.insert("client".into(), json!(client.to_string()));
            o.insert("server".into(), json!(server.to_string()));
        }
        Event::Head(head) => {
            o.insert("event".into(), json!("head"));
            o.insert("head".into(), json!(head));
        }
        Event::Note(text) => {
            o.insert("event".into(), json!("note"));
            o.insert("note".into(), json!(text));
        }
        Event::Frame(f) => {
            o.insert("event".into(), json!("frame"));
            o.insert("fin".into(), json!(f.fin));
            o.insert("rsv1".into(), json!(f.rsv[0]));
            o.insert("rsv2".into(), json!(f.rsv[1]));
            o.insert("rsv3".into(), json!(f.rsv[2]));
            o.insert("opcode".into(), json!(opcode_name(f.opcode)));
            o.insert("mask".into(), json!(f.mask.map(|k| hex(&k))));
            o.insert("len".into(), json!(f.len));
            o.insert("len_encoding".into(), json!(f.len_encoding.name()));
            o.insert("inflated".into(), json!(f.inflated));
            o.insert("inflate_cut".into(), json!(f.inflate_cut));
            payload_json(&mut o, f.close.as_ref(), f.preview.as_ref(), &f.violations);
        }
        Event::Message(m) => {
            o.insert("event".into(), json!("message"));
            o.insert("opcode".into(), json!(opcode_name(m.opcode)));
            o.insert("frames".into(), json!(m.frames));
            o.insert("len".into(), json!(m.len));
            o.insert("inflated".into(), json!(m.inflated));
            o.insert("inflate_cut".into(), json!(m.inflate_cut));
            payload_json(&mut o, m.close.as_ref(), m.preview.as_ref(), &m.violations);
        }
    }
    Value::Object(o)
}

fn payload_json(
    o: &mut Map<String, Value>,
    close: Option<&CloseInfo>,
    preview: Option<&Preview>,
    violations: &[super::record::Violation],
) {
    if let Some(close) = close {
        o.insert("close_code".into(), json!(close.code));
        o.insert("close_reason".into(), json!(close.reason));
    }
    match preview {
        Some(Preview::Text { text, cut }) => {
            o.insert("text".into(), json!(text));
            o.insert("cut".into(), json!(cut));
        }
        Some(Preview::Binary { bytes, cut }) => {
            o.insert("hex".into(), json!(hex(bytes)));
            o.insert("cut".into(), json!(cut));
        }
        None => {}
    }
    let list: Vec<Value> = violations
        .iter()
        .map(|v| json!({ "kind": v.kind(), "text": v.to_string() }))
        .collect();
    o.insert("violations".into(), Value::Array(list));
}

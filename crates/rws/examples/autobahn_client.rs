//! The client that the Autobahn TestSuite tests as a client.
//!
//! Follows the fuzzing server's protocol: reads the case count from
//! `$AUTOBAHN_URL/getCaseCount`, runs every case (echoing each message
//! until the connection closes), then asks for the reports.
//!
//! ```sh
//! ../shared/autobahn/run.sh client -- target/release/examples/autobahn_client
//! ```

use rws::deflate::DeflateConfig;
use rws::{Config, Error, WebSocketConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let base = std::env::var("AUTOBAHN_URL").unwrap_or_else(|_| "ws://127.0.0.1:9001".into());
    let agent = std::env::var("AUTOBAHN_AGENT").unwrap_or_else(|_| "rws".into());
    // Autobahn's 9.x cases send messages of up to 16 MiB; 12.x and 13.x
    // need permessage-deflate offered.
    let protocol = Config::default()
        .max_message_size(32 << 20)
        .deflate(Some(DeflateConfig::default()));
    let config = WebSocketConfig::default().core(protocol);

    let (mut ws, _) = rws::connect(&format!("{base}/getCaseCount")).await?;
    let count: u32 = match ws.recv().await {
        Some(Ok(message)) => message
            .as_text()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0),
        _ => 0,
    };
    while ws.recv().await.is_some() {}
    eprintln!("autobahn_client: {count} cases");

    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        // Many cases fail the connection on purpose; report only the rest.
        match run_case(&url, config.clone()).await {
            Ok(()) | Err(Error::Protocol(_)) => {}
            Err(e) => eprintln!("case {case}: {e}"),
        }
    }

    let (mut ws, _) = rws::connect(&format!("{base}/updateReports?agent={agent}")).await?;
    while ws.recv().await.is_some() {}
    Ok(())
}

async fn run_case(url: &str, config: WebSocketConfig) -> Result<(), Error> {
    let (mut ws, _) = rws::ClientBuilder::new(url)
        .config(config)
        .connect()
        .await?;
    while let Some(message) = ws.recv().await {
        ws.send(message?).await?;
    }
    Ok(())
}

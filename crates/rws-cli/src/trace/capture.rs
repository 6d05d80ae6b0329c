//! Reading ws:// traffic from pcap and pcapng captures.

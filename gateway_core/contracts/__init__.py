"""What each wire contract says about an invoice: its webhook payloads, status and event names."""

"""Micro-training, transport-independent: cards (generated from playbooks or authored), each person's memory
of them (FSRS), and when a refresher may reach them (shift, quiet hours, daily cap)."""

"""The shop's rules: dates, opening hours and slots, user ids, availability."""

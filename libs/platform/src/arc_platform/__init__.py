"""What every Mastery Arc service does the same way."""

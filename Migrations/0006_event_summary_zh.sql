-- The event feed in the console's second language: each event's summary in Chinese too.
ALTER TABLE events ADD COLUMN summary_zh TEXT

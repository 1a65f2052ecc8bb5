"""Read models for the CLI: people (contacts, one person, hand-made entries) and the method
(the top-100 ranking, the funnel, cadence health, the forecast, the referral ledger).
"""

"""The forecast of a round's whole ladder: per step the messages, letters, cost, answers,
verified profiles and days expected, from the rates earlier rounds of the campaign showed (or
the campaign's defaults), made by ``enrich round plan`` and stored with a round when it starts."""

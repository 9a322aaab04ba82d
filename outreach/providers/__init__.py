"""The outside providers, each in one place: SendGrid for email, Twilio for SMS."""

"""Model registry review and promotion: what was this model trained on, and is that data still good?"""

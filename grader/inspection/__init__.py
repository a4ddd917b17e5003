"""Inspection: facts about a model before it trains (`facts`, gathered in the child) and
the rubric's structural checks judged from them (`checks`, pure functions in the parent).
"""

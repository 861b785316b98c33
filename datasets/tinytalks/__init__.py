"""TinyTalks: short question/answer conversations written for this project (see DATASHEET.md)."""

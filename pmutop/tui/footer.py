"""The footer: Textual's, showing only the keys that fit on its one line.

Textual's Footer lays every shown binding out in a row and lets the row run past the edge, under the
command palette's key docked at the right: at 80 columns the last keys are cut mid-word and a cut
letter shows beside the palette key. This one keeps the keys in binding order (what a newcomer needs
first) while they fit beside the palette key; the help screen (?) lists them all.
"""

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Footer


def is_key(widget: Widget) -> bool:
    """Whether a footer child is one of its keys (Textual's FooterKey, a private class: known by its fields)."""
    return hasattr(widget, "key_display") and hasattr(widget, "description")


def key_width(key: Widget, compact: bool) -> int:
    """Cells a footer key takes with its margin, as Footer's and FooterKey's DEFAULT_CSS lay it out."""
    display, description = len(getattr(key, "key_display", "")), len(getattr(key, "description", ""))
    if compact:
        return display + (1 + description if description else 0) + 1
    return display + 2 + (description + 1 if description else 0)


class FittingFooter(Footer):
    def compose(self) -> ComposeResult:
        widgets = list(super().compose())
        palette = [w for w in widgets if is_key(w) and w.has_class("-command-palette")]
        # In the app's binding order: Textual lists priority bindings (space, the seek keys) first.
        actions = [binding.action for binding in self.app.BINDINGS if isinstance(binding, Binding)]
        order = {action: index for index, action in reversed(list(enumerate(actions)))}
        keys = sorted((w for w in widgets if w not in palette), key=lambda w: order.get(getattr(w, "action", ""), 0))
        # The palette key: its left border and, spaced out, its right padding.
        room = self.app.size.width - sum(key_width(w, self.compact) + (1 if self.compact else 2) for w in palette)
        for widget in keys:
            width = key_width(widget, self.compact) if is_key(widget) else len(str(widget.render()))
            if width > room:
                break
            room -= width
            yield widget
        yield from palette

    def on_resize(self) -> None:
        self.refresh(recompose=True)

"""A replay tick repaints the header (its position changes every tick) without laying out the screen; the
header is one line whatever it says (pieces leave, the rest ends in an ellipsis), so it never needs one."""

from tui_support import SHOWN_TICK, paused_replay, wait_for_tick

from pmutop.tui.app import PmutopApp


def layouts_asked(widget) -> list[bool]:
    asked = []
    real = widget.refresh

    def refresh(*regions, layout=False, **options):
        asked.append(layout)
        return real(*regions, layout=layout, **options)

    widget.refresh = refresh
    return asked


async def test_the_replay_position_is_repainted_in_place(this_vm):
    app = PmutopApp(paused_replay(this_vm))
    async with app.run_test(size=(200, 40)) as pilot:
        await wait_for_tick(pilot, app)
        asked = layouts_asked(app.header)
        app.action_step()
        await wait_for_tick(pilot, app, SHOWN_TICK + 1)
        await pilot.pause()
        # The header numbers the interval shown: the snapshot's index.
        assert f" {SHOWN_TICK + 1}/" in str(app.header.render())
        assert asked and not any(asked), "the header kept its height: no layout"
        # A filter longer than the line: still one line, cut with an ellipsis, and no layout.
        app.live.set_filter("efficiency-and-a-filter-long-enough-to-wrap-the-header" * 3)
        app._update_header()
        await pilot.pause()
        assert asked[-1] is False and app.header.size.height == 1
        assert str(app.header.render()).rstrip().endswith("…")

"""Stories: many shots, one film, paid once.

A story file (YAML or JSON) lists a film's shots, its cast, its soundtrack and captions.
`Story.load()` reads and checks it; `plan_story()` resolves every shot against its model
(offline); `client.render_story(story)` renders each shot once through the SDK's journaled
lifecycle and joins them into one film. See docs/stories.md.

```python
from venice_video import VeniceVideo
from venice_video.story import Story

story = Story.load("examples/lighthouse.yaml")
with VeniceVideo() as client:
    film = client.render_story(story, on_shot=print)
print(film.path, f"${film.cost:.2f}")
```
"""

from ._errors import Problem, StoryBudgetError, StoryError, StoryRenderError
from ._model import Captions, CastMember, Defaults, Shot, Soundtrack, Story, Transition, Trim
from ._plan import PlannedShot, StoryPlan, plan_story
from ._render import ShotQuote, StoryQuote
from ._result import Film, FilmShot, ShotPhase, ShotProgress

__all__ = [
    "CastMember",
    "Captions",
    "Defaults",
    "Film",
    "FilmShot",
    "PlannedShot",
    "Problem",
    "Shot",
    "ShotPhase",
    "ShotProgress",
    "ShotQuote",
    "Soundtrack",
    "Story",
    "StoryBudgetError",
    "StoryError",
    "StoryPlan",
    "StoryQuote",
    "StoryRenderError",
    "Transition",
    "Trim",
    "plan_story",
]

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

The front-ends (the command line, the MCP server, the gallery) use the steps of a render,
also exported here: `prepare_flow()` checks, inspects and quotes a story into a `Run`,
driven by `drive()` (the sync client) or `adrive()` (async code); `story_quote()` prices a
run; `arender_story()` renders a story from async code with either client. `film_cut()` and
`current_film()` tell whether the film on disk is what the shots make, against the record
`read_manifest()` reads from `manifest_path_for()`. `story_id()` names a story;
`schema_text()` is the story file's JSON Schema.
"""

from ._errors import Problem, StoryBudgetError, StoryError, StoryRenderError
from ._finish import FilmCut, current_film, film_cut
from ._flow import adrive, drive
from ._model import Captions, CastMember, Defaults, Shot, Soundtrack, Story, Transition, Trim
from ._plan import PlannedShot, StoryPlan, plan_story, story_id
from ._render import ShotQuote, StoryQuote, arender_story, prepare_flow, story_quote
from ._result import Film, FilmShot, ShotPhase, ShotProgress
from ._run import Run, manifest_path_for, read_manifest
from ._schema import schema_text

__all__ = [
    "CastMember",
    "Captions",
    "Defaults",
    "Film",
    "FilmCut",
    "FilmShot",
    "PlannedShot",
    "Problem",
    "Run",
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
    "adrive",
    "arender_story",
    "current_film",
    "drive",
    "film_cut",
    "manifest_path_for",
    "plan_story",
    "prepare_flow",
    "read_manifest",
    "schema_text",
    "story_id",
    "story_quote",
]

"""The Streamlit app: `streamlit run demo/app.py`. Where a change goes:

app.py          the frame: page config, language, navigation over the page table, old addresses
routes.py       the page table (names, paths, titles) and `link`, which carries the language
app_pages/      one module per page, each with `page()`; they import ui/ and core, never
                each other: workbench.py (/), lesson.py (/lesson), lab.py (/lab),
                room.py (/room: the start form, the teacher's and the students' views)
ui/             parts that pages draw and that return what the user chose: panels.py (the
                composite and the models' panels), lesson_step.py (a step's text, question,
                verdict and panels: the lesson's and the class room's), decisions.py and
                static/ (the decisions panel, deciding in the browser), report.py (the
                test-set report), header.py (title bar and language switch), room_summary.py
                (after a class room's lesson: the record's downloads, the class's and each
                student's summary)
rooms/          class rooms without Streamlit: rules, identities, the RoomStore interface and
                its SQLite and Redis implementations, the tally text, record.py (what a class
                answered, as rows, CSV, JSON and summaries, naming no student)
serve/          what serving needs, not pages: wire.py (a page spoken to over its websocket,
                for the benchmark and the warm-up), sockets.py, keras_session.py, uploads.py,
                patches.py
cache.py        what a process shares with every session: models, predictions, gallery, PNGs
context.py      what every page draws from, built once per run (`page_context`)
url.py, keys.py the state inside a page's address, and every widget key
lesson.py       the lesson's steps as data; charts.py, terms.py, i18n.py, locales/: content
messages.py     English texts in shared caches, shown in each page's language
health.py, warmup.py, figures.py   run by module path from deploy/ and docs/
"""

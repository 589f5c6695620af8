"""The LMS round trip: Moodle and Canvas downloads in, grades and feedback out.

One module per job:

- :mod:`grader.lms.collect`: an LMS "download all submissions" zip into nbgrader's submitted/ folders;
- :mod:`grader.lms.worksheet`: fill Moodle's offline grading worksheet;
- :mod:`grader.lms.canvas_import`: a Canvas gradebook import CSV;
- :mod:`grader.lms.feedback_zip`: feedback HTML in Moodle's "Upload multiple feedback files in a zip" layout;
- :mod:`grader.lms.canvas_feedback`: feedback HTML named for Canvas's "Re-Upload Submissions", and the Canvas
  file ids collect records for it;
- :mod:`grader.lms.groups`: which graded submission (their own, or their Moodle group's) stands for whom;
- :mod:`grader.lms.bundle`: the release zip students download, with instructions.

The formats themselves live in :mod:`grader.lms.moodle` and :mod:`grader.lms.canvas`; the helpers they share
in :mod:`grader.lms.archive` (zips), :mod:`grader.lms.csvfile` (CSV files kept in their own format),
:mod:`grader.lms.notebook_names` (which assignment notebook a file is), :mod:`grader.lms.roster` (students
and their LMS ids) and :mod:`grader.lms.student_grades` (totals, scaling and feedback comments).
"""

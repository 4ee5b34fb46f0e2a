"""``python -m autograder.tools <command>``: the instructor's grading commands.

demo            grade the sample class end to end with real nbgrader (make grade-demo)
grade           autograde a real class on every core (or a Dask cluster): what is new
                in ``submitted/`` (or a zip of it) -> gradebook, gradebook check,
                feedback HTML, CSV exports, grade table
prepare         put assignments into the gradebook (release/ is left as it is)
export          one row per student, one column per assignment (Canvas's import CSV)
roster          import id,first_name,last_name,email into the gradebook
build-samples   write autograder/samples as submitted notebooks into a course directory
personalize     one release notebook per student (roster CSV), with their own numbers
init-secret     create autograder/course_secret (git-ignored; never give it to students)
protections     which sandbox protections this machine gives
new-assignment  start an assignment from the template (docs/authoring.md)
add-question    add a question to an assignment (its declaration and its cells)
sync-points     write the questions' points into the notebook (make course does too)

Every command runs real nbgrader with this Python's bin/ first on PATH.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from autograder.tools import course as C
from autograder.tools.pipeline import DEFAULT_DEMO_DIR, demo, grade, init_secret


def _authoring(args: argparse.Namespace) -> int:
    from autograder.tools import authoring

    try:
        _author(authoring, args)
    except (ValueError, KeyError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _author(authoring, args: argparse.Namespace) -> None:
    if args.command == "new-assignment":
        folder = authoring.new_assignment(args.source, args.assignment)
        print(f"created {folder}: edit {args.assignment}_questions.py and the notebook "
              "(docs/authoring.md)")
    elif args.command == "add-question":
        authoring.add_question(args.source, args.assignment, args.name, target=args.target,
                               points=args.points)
        print(f"added {args.assignment}-{args.name}: write its reference and cases in "
              f"{args.assignment}_questions.py and its solution in the notebook")
    else:
        for change in authoring.sync_points(args.source, args.assignment):
            print("updated:", change)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.tools",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="grade the sample class end to end (make grade-demo)")
    p.add_argument("--workdir", default=DEFAULT_DEMO_DIR,
                   help="course directory to create (default autograder/.scratch/demo)")
    p.add_argument("--assignment", action="append", help="only this assignment (repeatable)")

    p = sub.add_parser("grade", help="autograde a real class")
    p.add_argument("assignment", nargs="*", help="assignments (default: all submitted)")
    p.add_argument("--course", default=C.AUTOGRADER, help="course directory (default autograder/)")
    p.add_argument("--submissions", help="a submitted/ folder or a zip of one, copied in first")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes of the embedded Dask cluster (default: all cores; "
                        "0: no workers, nbgrader grades one at a time in this process)")
    p.add_argument("--scheduler", help="send the work to the Dask cluster at tcp://HOST:PORT")
    p.add_argument("--force", action="store_true",
                   help="grade every submission again, not only new or changed ones")
    p.add_argument("--student", action="append", dest="students", metavar="ID",
                   help="only this student (repeatable)")
    p.add_argument("--roster", help="CSV id,first_name,last_name,email imported into the "
                                    "gradebook first")

    p = sub.add_parser("prepare", help="put assignments into the gradebook (release/ is "
                                       "left as it is)")
    p.add_argument("assignment", nargs="+")
    p.add_argument("--course", default=C.AUTOGRADER)

    p = sub.add_parser("export", help="wide CSV for an LMS (Canvas's gradebook import)")
    p.add_argument("assignment", nargs="*", help="assignments (default: all in the gradebook)")
    p.add_argument("--course", default=C.AUTOGRADER)
    p.add_argument("--to", help="default <course>/exports/canvas.csv")
    p.add_argument("--per-question", action="store_true",
                   help="a column per question after each assignment's total")
    p.add_argument("--section", default="", help="the Section column's value")

    p = sub.add_parser("roster", help="import a roster CSV (id,first_name,last_name,email) "
                                      "into the gradebook")
    p.add_argument("csv")
    p.add_argument("--course", default=C.AUTOGRADER)

    p = sub.add_parser("build-samples", help="write the sample submissions into a course")
    p.add_argument("--course", default=DEFAULT_DEMO_DIR)
    p.add_argument("--secret-file", default=C.DEMO_SECRET)
    p.add_argument("assignment", nargs="*")

    p = sub.add_parser("personalize", help="one release notebook per student")
    p.add_argument("assignment")
    p.add_argument("--roster", required=True, help="CSV with a column 'id'")
    p.add_argument("--course", default=C.AUTOGRADER)
    p.add_argument("--out", help="default <course>/personalized")

    p = sub.add_parser("init-secret", help="create the course secret")
    p.add_argument("--path", default=os.path.join(C.AUTOGRADER, "course_secret"))
    p.add_argument("--force", action="store_true")

    sub.add_parser("protections", help="which sandbox protections this machine gives")

    source_default = os.path.join(C.AUTOGRADER, "source")
    p = sub.add_parser("new-assignment", help="start an assignment from the template")
    p.add_argument("assignment")
    p.add_argument("--source", default=source_default, help="default autograder/source")
    p = sub.add_parser("add-question", help="add a question to an assignment")
    p.add_argument("assignment")
    p.add_argument("name", help="the question's name: its key is <assignment>-<name>")
    p.add_argument("--target", required=True, help="the function the student writes")
    p.add_argument("--points", type=float, default=1.0)
    p.add_argument("--source", default=source_default, help="default autograder/source")
    p = sub.add_parser("sync-points", help="write the questions' points into the notebook")
    p.add_argument("assignment")
    p.add_argument("--source", default=source_default, help="default autograder/source")

    args = parser.parse_args(argv)
    try:
        if args.command in ("new-assignment", "add-question", "sync-points"):
            return _authoring(args)
        if args.command == "demo":
            result = demo(args.workdir, assignments=args.assignment)
            return 0 if result.ok else 1
        if args.command == "grade":
            result = grade(args.course, args.assignment, args.submissions,
                           workers=args.workers, scheduler=args.scheduler, force=args.force,
                           students=args.students, roster=args.roster)
            return 0 if result.ok else 1
        if args.command == "prepare":
            course = os.path.abspath(args.course)
            known = C.assignments_in(os.path.join(course, "source"))
            unknown = [a for a in args.assignment if a not in known]
            if unknown:
                raise C.ToolError(f"unknown assignment {unknown[0]!r} (the course has: "
                                  f"{', '.join(known) or 'none'})")
            added = C.ensure_in_gradebook(course, args.assignment)
            for a in args.assignment:
                print(f"{a}: {'added to' if a in added else 'already in'} the gradebook")
            return 0
        if args.command == "export":
            from autograder.tools.export import write_canvas_csv

            out = args.to or os.path.join(args.course, "exports", "canvas.csv")
            print(write_canvas_csv(args.course, out, args.assignment,
                                   per_question=args.per_question, section=args.section))
            return 0
        if args.command == "roster":
            n = C.import_roster(os.path.abspath(args.course), args.csv)
            print(f"{n} students in the gradebook of {args.course}")
            return 0
        if args.command == "build-samples":
            with open(args.secret_file, encoding="utf-8") as fh:
                secret = fh.read().strip()
            names = args.assignment or C.assignments_in(os.path.join(args.course, "source"))
            for a in names:
                if not os.path.isfile(C.release_path(args.course, a)):
                    C.run_nbgrader(args.course, "generate_assignment", a, "--force")
            built = C.build_samples(args.course, C.SAMPLES, names, secret=secret)
            for a, students in sorted(built.items()):
                print(f"{a}: {', '.join(students)}")
            return 0
        if args.command == "personalize":
            from autograder.grader.preprocessor import Course

            secret = Course().secret(args.course)
            out = args.out or os.path.join(args.course, "personalized")
            written = C.personalize(args.course, args.assignment, C.read_roster(args.roster),
                                    out, secret=secret)
            print(f"wrote {len(written)} notebooks under {out}/<student>/{args.assignment}/")
            return 0
        if args.command == "init-secret":
            print(f"wrote {init_secret(args.path, force=args.force)} (keep it private; "
                  "back it up: every student's numbers depend on it)")
            return 0
        if args.command == "protections":
            from autograder.grader import platform

            print(platform.describe())
            return 0
    except KeyboardInterrupt:
        print("interrupted: finished results are kept; run the same command again to go on",
              file=sys.stderr)
        return 130
    except (C.ToolError, ConnectionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 2  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())

"""Load a small generated sample through the public gRPC APIs: a school, a course with a few
outcomes on a 1–4 scale, a section taught by the demo teacher with twelve students (the demo
guardian's child among them), and attempts spread over the last term.

    python scripts/load_sample.py

Targets from ARC_CATALOG_TARGET / ARC_EVIDENCE_TARGET; the network admin's bearer token from
ARC_TOKEN, or fetched from the development issuer at ARC_DEV_ISSUER_URL.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import urllib.request
from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from arc.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from arc.evidence.v1 import evidence_pb2, evidence_pb2_grpc
from arc_platform.auth.client import bearer_interceptors

OUTCOMES = [
    ("MATH.6.RP.1", "I can use ratio language to describe how two quantities relate."),
    ("MATH.6.EE.2", "I can write and read expressions with letters standing for numbers."),
    ("SCI.MS.PS1.1", "I can build models of atoms and molecules."),
    ("HOW.COLLAB", "I can work with others to reach a shared goal."),
]
SCALE = catalog_pb2.ProficiencyScale(
    name="Four-point",
    levels=[
        catalog_pb2.ScaleLevel(value=1, label="Not yet"),
        catalog_pb2.ScaleLevel(value=2, label="Approaching"),
        catalog_pb2.ScaleLevel(value=3, label="Meets"),
        catalog_pb2.ScaleLevel(value=4, label="Exceeds"),
    ],
    mastery_threshold=3,
)
STUDENTS = [f"stu-{n:03d}" for n in range(1, 13)]
NAMES = ["Sam", "Ana", "Ben", "Cy", "Dee", "Eve", "Fay", "Gus", "Hal", "Ivy", "Jo", "Kit"]
SCHOOL, COURSE, SECTION = "school-demo", "math-6", "math-6-a"
TEACHER, GUARDIAN = "teacher-demo", "guardian-001"
#: The term began 90 days ago, so that every sample attempt lies in the past whenever it runs.
TERM_START = (datetime.now(UTC) - timedelta(days=90)).replace(
    hour=9, minute=0, second=0, microsecond=0
)


def stamp(value: datetime) -> Timestamp:
    result = Timestamp()
    result.FromDatetime(value)
    return result


async def define_outcomes(catalog: catalog_pb2_grpc.CatalogServiceStub) -> list[str]:
    ids = []
    for code, statement in OUTCOMES:
        reply = await catalog.DefineOutcome(
            catalog_pb2.DefineOutcomeRequest(code=code, statement=statement, scale=SCALE)
        )
        ids.append(reply.outcome_id)
    return ids


async def define_roster(
    catalog: catalog_pb2_grpc.CatalogServiceStub, outcome_ids: list[str]
) -> None:
    """The people and the class the demo users (teacher, student, guardian) belong to."""
    await catalog.DefineOrg(catalog_pb2.Org(org_id=SCHOOL, name="Arc Middle School", kind="school"))
    await catalog.DefineCourse(
        catalog_pb2.Course(
            course_id=COURSE,
            title="Mathematics 6",
            school_id=SCHOOL,
            outcomes=[
                catalog_pb2.CourseOutcome(outcome_id=o, power=n < 2)
                for n, o in enumerate(outcome_ids)
            ],
        )
    )
    people = [
        catalog_pb2.Person(
            person_id=student,
            role="student",
            given_name=name,
            family_name="Demo",
            school_ids=[SCHOOL],
        )
        for student, name in zip(STUDENTS, NAMES, strict=True)
    ]
    people.append(
        catalog_pb2.Person(
            person_id=TEACHER,
            role="teacher",
            given_name="Tess",
            family_name="Teacher",
            school_ids=[SCHOOL],
        )
    )
    people.append(
        catalog_pb2.Person(
            person_id=GUARDIAN,
            role="guardian",
            given_name="Gale",
            family_name="Guardian",
            guardian_of=[STUDENTS[0]],
        )
    )
    for person in people:
        await catalog.DefinePerson(person)
    await catalog.DefineSection(
        catalog_pb2.Section(
            section_id=SECTION,
            course_id=COURSE,
            title="Math 6 — period A",
            school_id=SCHOOL,
            teacher_ids=[TEACHER],
            student_ids=STUDENTS,
        )
    )


async def record_when_known(
    evidence: evidence_pb2_grpc.EvidenceServiceStub, request: evidence_pb2.RecordAttemptRequest
) -> None:
    """Evidence learns new outcomes from catalog events a moment after they are defined."""
    for _ in range(200):
        try:
            await evidence.RecordAttempt(request)
            return
        except grpc.aio.AioRpcError as exc:
            if "unknown outcome" not in (exc.details() or ""):
                raise
            await asyncio.sleep(0.05)
    raise TimeoutError(f"evidence never learned outcome {request.outcome_id}")


async def load(catalog_target: str, evidence_target: str, token: str, seed: int = 2026) -> int:
    rng = random.Random(seed)
    async with (
        grpc.aio.insecure_channel(
            catalog_target, interceptors=bearer_interceptors(token)
        ) as catalog_channel,
        grpc.aio.insecure_channel(
            evidence_target, interceptors=bearer_interceptors(token)
        ) as evidence_channel,
    ):
        catalog = catalog_pb2_grpc.CatalogServiceStub(catalog_channel)
        outcome_ids = await define_outcomes(catalog)
        await define_roster(catalog, outcome_ids)
        evidence = evidence_pb2_grpc.EvidenceServiceStub(evidence_channel)
        count = 0
        for student in STUDENTS:
            growth = rng.uniform(0.01, 0.03)  # levels gained per day: an arc, not a flat line
            for outcome_id in outcome_ids:
                level = rng.uniform(1.0, 2.2)
                for week in sorted(rng.sample(range(1, 12), rng.randint(4, 7))):
                    day = week * 7 + rng.randint(0, 4)
                    score = max(1, min(4, round(level + growth * day + rng.uniform(-0.6, 0.6))))
                    await record_when_known(
                        evidence,
                        evidence_pb2.RecordAttemptRequest(
                            student_id=student,
                            outcome_id=outcome_id,
                            score=score,
                            assessed_at=stamp(TERM_START + timedelta(days=day)),
                            recorded_by=TEACHER,
                        ),
                    )
                    count += 1
            print(f"  {student}: evidence recorded ({count} attempts so far)", flush=True)
    return count


def admin_token() -> str:
    if os.environ.get("ARC_TOKEN"):
        return os.environ["ARC_TOKEN"]
    issuer = os.environ.get("ARC_DEV_ISSUER_URL", "http://127.0.0.1:4380")
    with urllib.request.urlopen(f"{issuer}/token/admin", timeout=10) as reply:
        token: str = json.load(reply)["access_token"]
    return token


def main() -> None:
    catalog = os.environ.get("ARC_CATALOG_TARGET", "127.0.0.1:50051")
    evidence = os.environ.get("ARC_EVIDENCE_TARGET", "127.0.0.1:50052")
    total = asyncio.run(load(catalog, evidence, admin_token()))
    print(f"sample loaded: {len(OUTCOMES)} outcomes, {len(STUDENTS)} students, {total} attempts")


if __name__ == "__main__":
    main()

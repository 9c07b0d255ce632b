"""gRPC adapter of the catalog: parse, call the use case (in a worker thread), map errors.
No catalog rules here. ``ACCESS_RULES`` says what kind of request each method is
(``arc_platform.auth.policy``; a method without a rule is refused): definitions (scales,
outcomes, frameworks, policies, courses, terms, schools, settings) are readable by every
authenticated person, being the network's published grading policy; people, sections and
rosters are read like student records; every change is a network administrator's."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeAlias, TypeVar

import grpc
from eventsourcing.persistence import IntegrityError

from arc.catalog.v1 import catalog_pb2 as pb
from arc.catalog.v1 import catalog_pb2_grpc
from arc_catalog import grpc_messages as msg
from arc_catalog.access import (
    guardianships_cut_to,
    people_asked,
    sections_asked,
    students_among,
    students_in,
    visible_rosters,
)
from arc_catalog.application import Catalog
from arc_catalog.core import Saved
from arc_catalog.domain.errors import InvalidDefinition, NotFound
from arc_catalog.domain.records import ScaleSnapshot
from arc_catalog.usecases.imports import ImportResult
from arc_platform.auth import (
    Access,
    ChangeCatalog,
    ForgetStudent,
    GrpcRule,
    ReadCatalog,
    ReadPerson,
    ReadSection,
    current_request,
)
from arc_platform.grpc_server import FieldViolation, abort_with
from arc_platform.telemetry import current_traceparent

T = TypeVar("T")
Context: TypeAlias = grpc.aio.ServicerContext  # type: ignore[type-arg]
SERVICE = "/arc.catalog.v1.CatalogService"


def _definitions(_request: object) -> ReadCatalog:
    return ReadCatalog()


def _change(_request: object) -> ChangeCatalog:
    return ChangeCatalog()


ACCESS_RULES: dict[str, GrpcRule] = {
    # The grading policy: open to every authenticated person.
    f"{SERVICE}/GetScale": _definitions,
    f"{SERVICE}/ListScales": _definitions,
    f"{SERVICE}/GetOutcome": _definitions,
    f"{SERVICE}/ListOutcomes": _definitions,
    f"{SERVICE}/GetFramework": _definitions,
    f"{SERVICE}/ListFrameworks": _definitions,
    f"{SERVICE}/ExportCase": _definitions,
    f"{SERVICE}/GetPolicy": _definitions,
    f"{SERVICE}/ListPolicies": _definitions,
    f"{SERVICE}/ResolvePolicy": _definitions,
    f"{SERVICE}/GetCourse": _definitions,
    f"{SERVICE}/ListCourses": _definitions,
    f"{SERVICE}/GetTerm": _definitions,
    f"{SERVICE}/ListTerms": _definitions,
    f"{SERVICE}/GetOrg": _definitions,
    f"{SERVICE}/ListOrgs": _definitions,
    f"{SERVICE}/GetNetworkSettings": _definitions,
    # People, sections and rosters: protected like student records.
    f"{SERVICE}/GetPerson": lambda request: ReadPerson(request.id),
    f"{SERVICE}/ListPeople": lambda request: people_asked(request.guardian_of, request.school_id),
    f"{SERVICE}/GetSection": lambda request: ReadSection(request.id),
    f"{SERVICE}/ListSections": lambda request: sections_asked(
        request.student_id, request.teacher_id, request.school_id
    ),
    # Changes: network administrators only.
    f"{SERVICE}/DefineScale": _change,
    f"{SERVICE}/DefineOutcome": _change,
    f"{SERVICE}/RetireOutcome": _change,
    f"{SERVICE}/DefineFramework": _change,
    f"{SERVICE}/DefineGroup": _change,
    f"{SERVICE}/RemoveGroup": _change,
    f"{SERVICE}/ImportCase": _change,
    f"{SERVICE}/SetPolicy": _change,
    f"{SERVICE}/RetirePolicy": _change,
    f"{SERVICE}/DefineCourse": _change,
    f"{SERVICE}/DefineTerm": _change,
    f"{SERVICE}/DefineOrg": _change,
    f"{SERVICE}/DefineSection": _change,
    f"{SERVICE}/Enroll": _change,
    f"{SERVICE}/Unenroll": _change,
    f"{SERVICE}/DefinePerson": _change,
    f"{SERVICE}/ForgetStudent": lambda request: ForgetStudent(request.student_id),
    f"{SERVICE}/ImportOneRoster": _change,
    f"{SERVICE}/SetNetworkSettings": _change,
}


async def call(context: Context, work: Callable[[], T]) -> T:
    """Run a use case off the event loop; turn its errors into precise gRPC statuses."""
    return await answer(context, asyncio.to_thread(work))


async def answer(context: Context, pending: Awaitable[T]) -> T:
    """The result of a use case under way, its errors turned into precise gRPC statuses (the
    call is aborted here, by the handler itself, never while it is sending a message)."""
    try:
        return await pending
    except InvalidDefinition as exc:
        await abort_with(context, [FieldViolation(v.field, v.description) for v in exc.violations])
    except NotFound as exc:
        await abort_with(context, [FieldViolation(exc.field, str(exc))], grpc.StatusCode.NOT_FOUND)
    except IntegrityError:
        await abort_with(
            context,
            [FieldViolation("", "changed concurrently by another writer; try again")],
            grpc.StatusCode.ABORTED,
        )
    raise AssertionError("unreachable: abort raises")


def unzip(archive: bytes) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as found:
            return {
                name.rsplit("/", 1)[-1]: found.read(name)
                for name in found.namelist()
                if name.lower().endswith(".csv")
            }
    except zipfile.BadZipFile as exc:
        raise InvalidDefinition("zip", f"not a zip archive: {exc}") from None


class CatalogServicer(catalog_pb2_grpc.CatalogServiceServicer):
    def __init__(self, catalog: Catalog, on_recorded: Callable[[], None], access: Access) -> None:
        self.catalog = catalog
        self.on_recorded = on_recorded
        self.access = access

    async def _log_reads(self, student_ids: list[str]) -> None:
        """The students whose records a list showed go to the access log."""
        if student_ids:
            await asyncio.to_thread(self.access.log.record_reads, current_request(), student_ids)

    async def command(self, context: Context, work: Callable[[str], Saved]) -> pb.Saved:
        traceparent = current_traceparent()
        result = await call(context, lambda: work(traceparent))
        if result.position is not None:
            self.on_recorded()
        return msg.saved(result)

    # --- scales ------------------------------------------------------------------------------

    async def DefineScale(self, request: pb.DefineScaleRequest, context: Context) -> pb.Saved:
        scale = msg.scale_from(request.scale)
        scale_id = request.scale_id.strip() or request.scale.scale_id.strip()
        return await self.command(
            context, lambda tp: self.catalog.define_scale(scale_id, scale, tp)
        )

    async def GetScale(self, request: pb.GetScaleRequest, context: Context) -> pb.ProficiencyScale:
        found = await call(
            context, lambda: self.catalog.get_scale(request.scale_id, request.revision or None)
        )
        return msg.scale_message(ScaleSnapshot(found.key, found.revision, found.value))

    async def ListScales(
        self, request: pb.ListScalesRequest, context: Context
    ) -> pb.ListScalesResponse:
        found = await call(context, self.catalog.list_scales)
        return pb.ListScalesResponse(
            scales=[msg.scale_message(ScaleSnapshot(s.key, s.revision, s.value)) for s in found]
        )

    # --- outcomes ----------------------------------------------------------------------------

    async def DefineOutcome(
        self, request: pb.DefineOutcomeRequest, context: Context
    ) -> pb.DefineOutcomeResponse:
        definition = msg.outcome_definition(request)
        inline = msg.scale_from(request.scale) if request.HasField("scale") else None
        traceparent = current_traceparent()
        result = await call(
            context,
            lambda: self.catalog.define_outcome(
                request.outcome_id, definition, inline, traceparent
            ),
        )
        if result.position is not None:
            self.on_recorded()
        return pb.DefineOutcomeResponse(
            outcome_id=result.key, revision=result.revision, position=result.position or 0
        )

    async def RetireOutcome(self, request: pb.RetireOutcomeRequest, context: Context) -> pb.Saved:
        return await self.command(
            context, lambda tp: self.catalog.retire_outcome(request.outcome_id, tp)
        )

    async def GetOutcome(self, request: pb.GetOutcomeRequest, context: Context) -> pb.Outcome:
        found = await call(
            context, lambda: self.catalog.get_outcome(request.outcome_id, request.revision or None)
        )
        return msg.outcome_message(found)

    async def ListOutcomes(
        self, request: pb.ListOutcomesRequest, context: Context
    ) -> pb.ListOutcomesResponse:
        found = await call(
            context,
            lambda: self.catalog.list_outcomes(
                msg.opt(request.framework_id),
                msg.opt(request.scale_id),
                msg.opt(request.tag),
                request.include_retired,
            ),
        )
        return pb.ListOutcomesResponse(outcomes=[msg.outcome_message(o) for o in found])

    # --- frameworks --------------------------------------------------------------------------

    async def DefineFramework(
        self, request: pb.DefineFrameworkRequest, context: Context
    ) -> pb.Saved:
        definition = msg.framework_from(request.framework)
        key = request.framework.framework_id.strip()
        return await self.command(
            context, lambda tp: self.catalog.define_framework(key, definition, tp)
        )

    async def DefineGroup(self, request: pb.DefineGroupRequest, context: Context) -> pb.Saved:
        group = msg.group_from(request.group)
        return await self.command(
            context, lambda tp: self.catalog.define_group(request.framework_id, group, tp)
        )

    async def RemoveGroup(self, request: pb.RemoveGroupRequest, context: Context) -> pb.Saved:
        return await self.command(
            context,
            lambda tp: self.catalog.remove_group(request.framework_id, request.group_id, tp),
        )

    async def GetFramework(
        self, request: pb.GetFrameworkRequest, context: Context
    ) -> pb.FrameworkTree:
        tree = await call(context, lambda: self.catalog.get_framework(request.framework_id))
        return pb.FrameworkTree(
            framework=msg.framework_message(tree.framework),
            outcomes=[msg.outcome_message(o, depth) for depth, o in tree.outcomes],
        )

    async def ListFrameworks(
        self, request: pb.ListFrameworksRequest, context: Context
    ) -> pb.ListFrameworksResponse:
        found = await call(context, self.catalog.list_frameworks)
        return pb.ListFrameworksResponse(frameworks=[msg.framework_message(f) for f in found])

    async def ExportCase(self, request: pb.ExportCaseRequest, context: Context) -> pb.CasePackage:
        package = await call(context, lambda: self.catalog.export_case(request.framework_id))
        return pb.CasePackage(json=json.dumps(package, indent=2, ensure_ascii=False).encode())

    async def ImportCase(
        self, requests: AsyncIterator[pb.ImportCaseRequest], context: Context
    ) -> AsyncIterator[pb.ImportProgress]:
        traceparent = current_traceparent()
        parts, framework_id, scale_id = [], "", ""
        async for request in requests:
            parts.append(request.package)
            framework_id = framework_id or request.framework_id
            scale_id = scale_id or request.scale_id
        package = b"".join(parts)

        def work(progress: Callable[[str, int, int], None]) -> ImportResult:
            return self.catalog.import_case(
                package, msg.opt(framework_id), msg.opt(scale_id), traceparent, progress
            )

        async for report in self._import(context, work):
            yield report

    async def ImportOneRoster(
        self, requests: AsyncIterator[pb.ImportOneRosterRequest], context: Context
    ) -> AsyncIterator[pb.ImportProgress]:
        traceparent = current_traceparent()
        files: dict[str, bytearray] = {}
        archive = bytearray()
        async for request in requests:
            for name, part in request.files.items():
                files.setdefault(name, bytearray()).extend(part)
            archive.extend(request.zip)

        def work(progress: Callable[[str, int, int], None]) -> ImportResult:
            contents = {name: bytes(content) for name, content in files.items()}
            if archive:
                contents.update(unzip(bytes(archive)))
            return self.catalog.import_oneroster(contents, traceparent, progress)

        async for report in self._import(context, work):
            yield report

    async def _import(
        self, context: Context, work: Callable[[Callable[[str, int, int], None]], ImportResult]
    ) -> AsyncIterator[pb.ImportProgress]:
        """Stream progress from the import running in a worker thread; the result comes last."""
        loop = asyncio.get_running_loop()
        reports: asyncio.Queue[pb.ImportProgress] = asyncio.Queue()

        def progress(phase: str, done: int, total: int) -> None:
            if done in (0, total) or done % max(1, total // 100) == 0:  # about 1 % steps
                report = pb.ImportProgress(phase=phase, done=done, total=total)
                loop.call_soon_threadsafe(reports.put_nowait, report)

        task = asyncio.ensure_future(asyncio.to_thread(work, progress))
        while not task.done() or not reports.empty():
            getter = asyncio.ensure_future(reports.get())
            await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                yield getter.result()
            else:
                getter.cancel()
        result = await answer(context, task)
        if result.position is not None:
            self.on_recorded()
        yield pb.ImportProgress(phase="done", done=1, total=1, result=msg.import_result(result))

    # --- policies ----------------------------------------------------------------------------

    async def SetPolicy(self, request: pb.SetPolicyRequest, context: Context) -> pb.Saved:
        policy = msg.policy_from(request.policy)
        return await self.command(context, lambda tp: self.catalog.set_policy(policy, tp))

    async def RetirePolicy(self, request: pb.RetirePolicyRequest, context: Context) -> pb.Saved:
        scope_id = msg.opt(request.scope_id)
        return await self.command(
            context, lambda tp: self.catalog.retire_policy(request.scope, scope_id, tp)
        )

    async def GetPolicy(self, request: pb.GetPolicyRequest, context: Context) -> pb.Policy:
        found = await call(
            context, lambda: self.catalog.get_policy(request.policy_id, request.revision or None)
        )
        return msg.policy_message(found)

    async def ListPolicies(
        self, request: pb.ListPoliciesRequest, context: Context
    ) -> pb.ListPoliciesResponse:
        found = await call(context, lambda: self.catalog.list_policies(msg.opt(request.scope)))
        return pb.ListPoliciesResponse(policies=[msg.policy_message(p) for p in found])

    async def ResolvePolicy(
        self, request: pb.ResolvePolicyRequest, context: Context
    ) -> pb.EffectivePolicy:
        found = await call(
            context,
            lambda: self.catalog.effective_policy(
                msg.opt(request.course_id), msg.opt(request.outcome_id)
            ),
        )
        return msg.effective_message(found)

    # --- courses, terms, schools ------------------------------------------------------------------

    async def DefineCourse(self, request: pb.Course, context: Context) -> pb.Saved:
        course = msg.course_from(request)
        return await self.command(
            context, lambda tp: self.catalog.define_course(request.course_id.strip(), course, tp)
        )

    async def GetCourse(self, request: pb.GetRequest, context: Context) -> pb.Course:
        return msg.course_message(await self._get(context, self.catalog.get_course, request))

    async def ListCourses(
        self, request: pb.ListCoursesRequest, context: Context
    ) -> pb.ListCoursesResponse:
        found = await call(
            context,
            lambda: self.catalog.list_courses(
                msg.opt(request.school_id), msg.opt(request.outcome_id)
            ),
        )
        return pb.ListCoursesResponse(courses=[msg.course_message(c) for c in found])

    async def DefineTerm(self, request: pb.Term, context: Context) -> pb.Saved:
        term = msg.term_from(request)
        return await self.command(
            context, lambda tp: self.catalog.define_term(request.term_id.strip(), term, tp)
        )

    async def GetTerm(self, request: pb.GetRequest, context: Context) -> pb.Term:
        return msg.term_message(await self._get(context, self.catalog.get_term, request))

    async def ListTerms(
        self, request: pb.ListTermsRequest, context: Context
    ) -> pb.ListTermsResponse:
        found = await call(context, self.catalog.list_terms)
        return pb.ListTermsResponse(terms=[msg.term_message(t) for t in found])

    async def DefineOrg(self, request: pb.Org, context: Context) -> pb.Saved:
        org = msg.org_from(request)
        return await self.command(
            context, lambda tp: self.catalog.define_org(request.org_id.strip(), org, tp)
        )

    async def GetOrg(self, request: pb.GetRequest, context: Context) -> pb.Org:
        return msg.org_message(await self._get(context, self.catalog.get_org, request))

    async def ListOrgs(self, request: pb.ListOrgsRequest, context: Context) -> pb.ListOrgsResponse:
        found = await call(context, self.catalog.list_orgs)
        return pb.ListOrgsResponse(orgs=[msg.org_message(o) for o in found])

    # --- sections and people -----------------------------------------------------------------

    async def DefineSection(self, request: pb.Section, context: Context) -> pb.Saved:
        section = msg.section_from(request)
        return await self.command(
            context,
            lambda tp: self.catalog.define_section(request.section_id.strip(), section, tp),
        )

    async def GetSection(self, request: pb.GetRequest, context: Context) -> pb.Section:
        section = await self._get(context, self.catalog.get_section, request)
        await self._log_reads(students_in([section]))
        return msg.section_message(section)

    async def ListSections(
        self, request: pb.ListSectionsRequest, context: Context
    ) -> pb.ListSectionsResponse:
        student_id = msg.opt(request.student_id)
        found = await call(
            context,
            lambda: visible_rosters(
                self.access.relationships,
                current_request(),
                self.catalog.list_sections(
                    course_id=msg.opt(request.course_id),
                    term_id=msg.opt(request.term_id),
                    school_id=msg.opt(request.school_id),
                    teacher_id=msg.opt(request.teacher_id),
                    student_id=student_id,
                ),
                student_id,
            ),
        )
        await self._log_reads(students_in(found))
        return pb.ListSectionsResponse(sections=[msg.section_message(s) for s in found])

    async def Enroll(self, request: pb.EnrollRequest, context: Context) -> pb.Saved:
        role: Any = request.role or "student"
        return await self.command(
            context,
            lambda tp: self.catalog.enroll(request.section_id, request.person_id, role, tp),
        )

    async def Unenroll(self, request: pb.UnenrollRequest, context: Context) -> pb.Saved:
        return await self.command(
            context, lambda tp: self.catalog.unenroll(request.section_id, request.person_id, tp)
        )

    async def DefinePerson(self, request: pb.Person, context: Context) -> pb.Saved:
        person = msg.person_from(request)
        return await self.command(
            context, lambda tp: self.catalog.define_person(request.person_id.strip(), person, tp)
        )

    async def GetPerson(self, request: pb.GetRequest, context: Context) -> pb.Person:
        return msg.person_message(await self._get(context, self.catalog.get_person, request))

    async def ListPeople(
        self, request: pb.ListPeopleRequest, context: Context
    ) -> pb.ListPeopleResponse:
        limit = request.page_size if request.page_size > 0 else None
        found = await call(
            context,
            lambda: self.catalog.list_people(
                msg.opt(request.role),
                msg.opt(request.school_id),
                msg.opt(request.guardian_of),
                after=request.page_token,
                limit=limit,
            ),
        )
        more = limit is not None and len(found) == limit
        await self._log_reads(students_among(found))
        shown = guardianships_cut_to(found, msg.opt(request.guardian_of))
        return pb.ListPeopleResponse(
            people=[msg.person_message(p) for p in shown],
            next_page_token=found[-1].key if more and found else "",
        )

    async def ForgetStudent(self, request: pb.ForgetStudentRequest, context: Context) -> pb.Saved:
        return await self.command(
            context, lambda tp: self.catalog.forget_student(request.student_id.strip(), tp)
        )

    # --- settings ----------------------------------------------------------------------------

    async def SetNetworkSettings(self, request: pb.NetworkSettings, context: Context) -> pb.Saved:
        settings = msg.settings_from(request)
        return await self.command(context, lambda tp: self.catalog.set_settings(settings, tp))

    async def GetNetworkSettings(
        self, request: pb.GetNetworkSettingsRequest, context: Context
    ) -> pb.NetworkSettings:
        return msg.settings_message(await call(context, self.catalog.settings))

    async def _get(
        self, context: Context, get: Callable[[str, int | None], T], request: pb.GetRequest
    ) -> T:
        return await call(context, lambda: get(request.id, request.revision or None))

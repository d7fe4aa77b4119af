"""The master code files: each account's diagnosis codes, billing codes and insurance payers
brought to the file's lists (or the Copy From account's), and the records kept because
prune.codes is off."""

from __future__ import annotations

from groupsync.accounts.model import Record
from groupsync.changes import make as change
from groupsync.errors import PlanError
from groupsync.planner.base import PlannerBase
from groupsync.vocabulary import CODE_FILE_NAMES, CODE_FILE_SPECS

MAX_CODE_WARNINGS = 20  # a file without inline lists can keep thousands: the rest are counted


class CodeSteps(PlannerBase):
    def _codes(self) -> None:
        codes = self.d.codes
        if codes is None:
            return
        for file in codes.files:
            actual_master = self.s.file(codes.master, file)
            if file in codes.inline:
                source = codes.inline[file]
                self._sync_file(codes.master, file, source, actual_master)
            else:
                source = actual_master
            for target in codes.copy_to:
                self._sync_file(target, file, source, self.s.file(target, file))
        if self.case_clashes:
            raise PlanError("\n".join(self.case_clashes))

    def _case_clashes(self, account_id: str, file: str, want: dict[str, Record],
                      have: dict[str, Record]) -> set[str]:
        """Payers the file names in another case than the account holds them (`AETNA`, held
        as `Aetna`): one payer to a biller, so adding one while the other stays (prune.codes
        off) would make two. Refused, with the way out, rather than planned; returns their
        keys. One pass over each side, whatever the sizes."""
        if not CODE_FILE_SPECS[file].key_folds_case or self.d.prune_codes:
            return set()  # with prune.codes the old spelling is removed: one payer after
        held = {k.casefold(): k for k in have}
        clashes = {key for key in want
                   if key not in have and held.get(key.casefold()) not in (None, key)}
        for key in sorted(clashes):
            old = held[key.casefold()]
            self.case_clashes.append(
                f"{file} {key!r} is {old!r} in account {self.label(account_id)}: payer names "
                f"are one payer whatever their case; write it as {old!r}, or remove {old!r} "
                "there first")
        return clashes

    def _sync_file(
        self, account_id: str, file: str, want: dict[str, Record], have: dict[str, Record]
    ) -> None:
        clashes = self._case_clashes(account_id, file, want, have)
        for key, record in want.items():
            current = have.get(key)
            if key in clashes:
                continue
            if current is None:
                self.changes.append(change("add", "code", account_id, file=file, key=key,
                                           after=record))
            elif current != record:
                self.changes.append(change("change", "code", account_id, file=file, key=key,
                                           before=current, after=record))
        extra = have.keys() - want.keys()
        if self.d.prune_codes:
            for key in extra:
                self.changes.append(change("remove", "code", account_id, file=file, key=key,
                                           before=have[key]))
            return
        codes = self.d.codes
        # the file's inline list is the source, or else the codes master's own file
        why = (f"not in {self.d.source}" if codes and file in codes.inline
               else f"not in the codes master {self.label(codes.master) if codes else ''}")
        for key in sorted(extra):
            self.kept_codes.setdefault((file, key, why), []).append(account_id)

    def _code_warnings(self) -> None:
        """Records kept only because prune.codes is off (docs/contracts.md, "The group's
        lifecycle"), as for usernames and joins: one warning per record, naming the accounts; past a
        screenful, counted."""
        items = sorted(self.kept_codes.items(), key=lambda kv: (
            CODE_FILE_NAMES.index(kv[0][0]), kv[0][1], kv[0][2]))
        for (file, key, why), accounts in items[:MAX_CODE_WARNINGS]:
            where = ", ".join(self.label(a) for a in accounts)
            self.warnings.append(
                f"{file} {key} in account{'s' if len(accounts) > 1 else ''} {where} is {why}; "
                "it stays because prune.codes is off")
        if len(items) > MAX_CODE_WARNINGS:
            self.warnings.append(
                f"… and {len(items) - MAX_CODE_WARNINGS} more code records that stay because "
                "prune.codes is off")

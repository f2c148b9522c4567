"""Command building: argument vectors only, never a shell (W21)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from consumers.process import Deadline, run_program
from consumers.programs import AnalysisInput, ProgramError, build_invocation, split_command
from consumers.programs import pre_process as templates
from consumers.programs.vidjil import config_arguments, with_germline_dir

SETTINGS = {"vidjil.algo_path": "/opt/vidjil/vidjil-algo", "vidjil.germline_dir": "/opt/vidjil/germline",
            "vidjil.mixcr_path": "/opt/mixcr/mixcr", "vidjil.igrec_path": "/opt/igrec/igrec.py"}


def job(command: str, tmp_path: Path, grep: str | None = None, settings: dict = SETTINGS) -> AnalysisInput:
    return AnalysisInput(sequence_path=tmp_path / "uploads" / "sequence_file.data_file.ab.6161.fa",
                         data_file="sequence_file.data_file.ab.6161.fa", filename="aa.fa", out_dir=tmp_path / "out",
                         basename="000042", command=command, grep_reads=grep, settings=settings)


def test_vidjil_argv_puts_the_servers_paths_around_the_config_arguments(tmp_path):
    invocation = build_invocation("vidjil", job("-c clones -z 100 -r 1 -g germline/homo-sapiens.g -e 1 -w 50",
                                                tmp_path))
    assert invocation.steps == [[
        "/opt/vidjil/vidjil-algo", "-o", str(tmp_path / "out"), "-b", "000042",
        "-c", "clones", "-z", "100", "-r", "1", "-g", "/opt/vidjil/germline/homo-sapiens.g", "-e", "1", "-w", "50",
        str(tmp_path / "uploads" / "sequence_file.data_file.ab.6161.fa"),
    ]]
    assert invocation.result_path == tmp_path / "out" / "000042.vidjil"
    assert invocation.log_path == tmp_path / "out" / "000042.vidjil.log"
    assert invocation.stored_as == "000042.vidjil"


@pytest.mark.parametrize("argument, expected", [
    ("germline/homo-sapiens.g:IGH,TRG", "/g/homo-sapiens.g:IGH,TRG"),
    ("germline", "/g"),
    ("germline:IGH", "/g:IGH"),
    ("-ggermline/homo-sapiens.g", "-ggermline/homo-sapiens.g"),  # attached values were never replaced
    ("mygermline/x.g", "mygermline/x.g"),
])
def test_only_arguments_starting_with_the_germline_word_are_redirected(argument, expected):
    assert with_germline_dir([argument], "/g/") == [expected]


def test_without_a_germline_dir_the_arguments_stay():
    assert config_arguments("-g germline/homo-sapiens.g next", "") == ["-g", "germline/homo-sapiens.g"]


def test_w21_a_config_command_with_shell_syntax_stays_plain_arguments(tmp_path):
    """W21: the original ran `vidjil-algo ... <config.command> ...` through a shell."""
    invocation = build_invocation("vidjil", job("-c clones '; rm -rf /' ; touch pwned $(id) `id` | cat", tmp_path))
    argv = invocation.steps[0]
    assert "; rm -rf /" in argv  # a quoted chunk is one harmless argument
    assert [";", "touch", "pwned", "$(id)", "`id`", "|", "cat"] == argv[argv.index("; rm -rf /") + 1:-1]


def test_w21_such_an_argument_vector_runs_without_a_shell(tmp_path):
    """Running the vector proves nothing is interpreted: no file appears, `;` reaches the program."""
    target = tmp_path / "pwned"
    argv = [sys.executable, "-c", "import sys; print(sys.argv[1:])", "clones; touch " + str(target), ";", "touch",
            str(target), "$(touch " + str(target) + ")"]
    log_path = tmp_path / "log"
    outcome = run_program(argv, log_path=log_path, cwd=tmp_path, deadline=Deadline(10))
    assert outcome.exit_code == 0
    assert not target.exists()
    assert "'clones; touch" in log_path.read_text()


def test_a_command_with_unbalanced_quotes_is_refused():
    with pytest.raises(ProgramError):
        split_command("-c 'clones")


def test_grep_reads_extracts_one_clone(tmp_path):
    invocation = build_invocation("vidjil", job("-c clones", tmp_path, grep="ACGTN"))
    assert invocation.steps[0][-4:-1] == ["--out-clone-files", "--grep-reads", "ACGTN"]
    assert invocation.result_path == tmp_path / "out" / "seq" / "clone.fa-1"
    assert not invocation.is_vidjil_json


def test_missing_vidjil_algo_is_a_clear_error(tmp_path):
    with pytest.raises(ProgramError, match="vidjil.algo_path"):
        build_invocation("vidjil", job("-c clones", tmp_path, settings={}))


def test_the_stand_in_is_our_module(tmp_path):
    invocation = build_invocation("vidjil", job("-c clones", tmp_path, settings={"vidjil.algo_path": "stand-in"}))
    assert invocation.steps[0][:3] == [sys.executable, "-m", "consumers.stand_in_algo"]


def test_mixcr_runs_three_steps_with_its_argument_groups(tmp_path):
    invocation = build_invocation("mixcr", job("-p rna-seq | -OcloneClusteringParameters=null | -c IGH", tmp_path))
    align, assemble, export = invocation.steps
    out = tmp_path / "out"
    assert align[:7] == ["/opt/mixcr/mixcr", "align", "--save-reads", "-t", "1", "-r",
                         str(out / "000042.mixcr.report.aln")]
    assert align[7:9] == ["-p", "rna-seq"] and align[-1] == str(out / "000042.align.vdjca")
    assert assemble[-3:] == ["-OcloneClusteringParameters=null", str(out / "000042.align.vdjca"),
                             str(out / "000042.clones.clns")]
    assert export[-4:] == ["-c", "IGH", str(out / "000042.clones.clns"), str(out / "000042.mixcr")]
    assert invocation.remove_after == {1: [out / "000042.align.vdjca"]}


def test_mixcr_needs_three_groups(tmp_path):
    with pytest.raises(ProgramError, match="three"):
        build_invocation("mixcr", job("-p rna-seq", tmp_path))


def test_igrec_and_none(tmp_path):
    igrec = build_invocation("igrec", job("--loci IGH", tmp_path))
    assert igrec.steps == [["/opt/igrec/igrec.py", "-s", str(tmp_path / "uploads" / "sequence_file.data_file.ab.6161.fa"),
                            "-o", str(tmp_path / "out" / "out"), "--loci", "IGH"]]
    assert igrec.result_path == tmp_path / "out" / "out" / "igrec.vidjil"
    copy = build_invocation("none", job("", tmp_path))
    assert copy.steps == [] and copy.copy_from == copy.result_path and copy.stored_as == "aa.fa"


def test_unknown_program():
    with pytest.raises(ProgramError):
        build_invocation("euro-mrd pipeline", None)


# --- pre-processes -----------------------------------------------------------------------------

def test_pre_process_placeholders_become_paths(tmp_path):
    built = templates.build("&binaries&/flash2 &file1& &file2& -o &result& --max-overlap=&result&",
                            Path("/up/a.fq"), Path("/up/b.fq"), Path("/w/out.fq"), {"vidjil.binaries_dir": "/bin/x"})
    assert built.argv == ["/bin/x/flash2", "/up/a.fq", "/up/b.fq", "-o", "/w/out.fq", "--max-overlap=/w/out.fq"]
    assert built.stdout_path is None


def test_the_classic_redirection_to_the_result_is_honoured_without_a_shell():
    built = templates.build("cat &file1& &file2& > &result&", Path("/up/a.fq"), Path("/up/b.fq"), Path("/w/r.fq"), {})
    assert built.argv == ["cat", "/up/a.fq", "/up/b.fq"]
    assert built.stdout_path == Path("/w/r.fq")


@pytest.mark.parametrize("command", [
    "cat &file1& | gzip > &result&", "cat &file1& ; rm -rf /", "cat &file1& && true", "cat &file1& > /etc/passwd",
    "cat &file1& 2> &result&", "cat `id`", "cat $(id)", "cat < &file1&",
])
def test_w21_pre_process_shell_operators_are_refused(command):
    with pytest.raises(ProgramError):
        templates.build(command, Path("/a"), Path("/b"), Path("/r"), {})


def test_pre_process_placeholder_errors():
    with pytest.raises(ProgramError, match="second file"):
        templates.build("merge &file1& &file2&", Path("/a"), None, Path("/r"), {})
    with pytest.raises(ProgramError, match="binaries_dir"):
        templates.build("&pear&/pear &file1&", Path("/a"), None, Path("/r"), {})
    with pytest.raises(ProgramError, match="unknown placeholder"):
        templates.build("x &nope&", Path("/a"), None, Path("/r"), {})


@pytest.mark.parametrize("first, second, expected", [
    ("lsdkj_toto-tata_mlkmfsdlkf.fastq.gz", "rete_toto-tata_eekjdf.fastq.gz", "_toto-tata_.fastq.gz"),
    ("S1_R1.fastq", "S1_R2.fastq", "S1_R.fastq"),
    ("abc.fq", "xyz.fa", "abc_xyz"),
    ("only.fa", None, "only.fa"),
])
def test_merged_name(first, second, expected):
    assert templates.merged_name(first, second) == expected

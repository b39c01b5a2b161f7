"""aerospike.conf reader: the stage sizes Aerospike's min_free_kbytes check uses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minfree.errors import ParseError
from minfree.parsers.aerospike_conf import parse_aerospike_conf, parse_size

# The shape of the configuration files Aerospike ships (service, logging, network
# contexts before the namespaces), with the stage settings of 6.x/7.x servers.
CONF = """\
# Aerospike database configuration file.
service {
    proto-fd-max 15000
}

logging {
    file /var/log/aerospike/aerospike.log {
        context any info
    }
}

network {
    service {
        address any
        port 3000
    }
    heartbeat {
        mode mesh
        port 3002
        interval 150
        timeout 10
    }
}

namespace test {
    replication-factor 2
    memory-size 4G
    index-stage-size 512M
    sindex-stage-size 2G   # secondary indexes are large here
    storage-engine memory
}

namespace flashy {
    index-type flash {
        mount /mnt/nvme-index
        mounts-size-limit 100G
    }
    index-stage-size 4G
    storage-engine device {
        device /dev/nvme0n1
    }
}
"""


def test_shipped_shape() -> None:
    conf = parse_aerospike_conf(CONF, source="aerospike.conf")
    assert [n.name for n in conf.namespaces] == ["test", "flashy"]
    test, flashy = conf.namespaces
    assert (test.index_type, test.index_stage_size_bytes) == ("undefined", 512 << 20)
    assert test.sindex_stage_size_bytes == 2 << 30
    assert flashy.index_type == "flash"
    # The flash index does not count; the 2G in-memory sindex stage does.
    assert conf.max_stage_size_bytes == 2 << 30
    assert conf.max_stage_from == "namespace test sindex-stage-size 2G"


def test_defaults_when_nothing_is_set() -> None:
    conf = parse_aerospike_conf("namespace a {\n storage-engine memory\n}\n")
    assert conf.max_stage_size_bytes == 1 << 30  # 1 GiB default stages
    empty = parse_aerospike_conf("service {\n}\n")
    assert empty.namespaces == ()
    assert empty.max_stage_size_bytes == 1 << 30


@pytest.mark.parametrize(("text", "line"), [
    ("namespace a {\n index-stage-size huge\n}\n", 2),
    ("}\n", 1),
])
def test_errors_name_the_line(text: str, line: int) -> None:
    with pytest.raises(ParseError) as info:
        parse_aerospike_conf(text, source="x.conf")
    assert info.value.line == line


def test_unclosed_context() -> None:
    with pytest.raises(ParseError, match="unclosed"):
        parse_aerospike_conf("namespace a {\n index-type shmem\n")


def test_sizes() -> None:
    assert parse_size("4096K") == 4 << 20
    assert parse_size("1T") == 1 << 40
    assert parse_size("-1G") is None


@given(st.text(alphabet=st.sampled_from(list("namespace{} \n#index-stage-size1G2Mshmemflash")),
               max_size=400))
def test_garbage_raises_only_parse_error(text: str) -> None:
    try:
        conf = parse_aerospike_conf(text)
    except ParseError:
        return
    assert conf.max_stage_size_bytes > 0

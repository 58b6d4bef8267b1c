#!/usr/bin/python3
# DTM's own Python client (../shared/peers/dtmcli-py) driving a coordinator as a DTM
# user's application does: saga; TCC with two branches, committed and rolled back;
# 2-phase messages by prepare + submit and by do_and_submit_db with the barrier on
# MariaDB, committed and refused. Run by dtm_peer_test.cc, which serves the branches
# and checks the branch databases; this script checks what the coordinator says.
#
#   dtm_python_client.py DTM_URL BRANCH_BASE MYSQL_HOST MYSQL_PORT USER PASSWORD DB
import json
import sys
import time
import traceback

import pymysql
import requests
from dtmcli import msg, saga, tcc, utils

dtm, base = sys.argv[1], sys.argv[2]
mysql = dict(host=sys.argv[3], port=int(sys.argv[4]), user=sys.argv[5],
             password=sys.argv[6], database=sys.argv[7], autocommit=False)
failures = []


def status(gid, want, seconds=20):
    """Waits for the coordinator to report `want` for gid; records a failure if not."""
    got = None
    for _ in range(seconds * 10):
        r = requests.get(dtm + "/query", params={"gid": gid})
        got = (r.json().get("transaction") or {}).get("status")
        if got == want:
            return
        time.sleep(0.1)
    failures.append("%s: status %s, want %s" % (gid, got, want))


def check(name, ok):
    print("%s %s" % ("ok" if ok else "FAILED", name), flush=True)
    if not ok:
        failures.append(name)


# Saga: two transfers, then one refused by its action (compensated).
gid = utils.gen_gid(dtm)
s = saga.Saga(dtm, gid)
s.add({"amount": 30}, base + "/TransOut", base + "/TransOutCompensate")
s.add({"amount": 30}, base + "/TransIn", base + "/TransInCompensate")
s.trans_base.wait_result = True
s.submit()
status(gid, "succeed")
check("saga " + gid, True)

# TCC committed: both tries succeed, the coordinator confirms.
def two_branches(t):
    t.call_branch({"amount": 30}, base + "/TccOutTry", base + "/TccOutConfirm",
                  base + "/TccOutCancel")
    t.call_branch({"amount": 30}, base + "/TccInTry", base + "/TccInConfirm",
                  base + "/TccInCancel")

gid = utils.gen_gid(dtm)
check("tcc committed", tcc.tcc_global_transaction(dtm, gid, two_branches) == gid)
status(gid, "succeed")
print("tcc-committed " + gid, flush=True)

# TCC rolled back: the second try answers FAILURE (409), the client aborts.
def refused(t):
    t.call_branch({"amount": 30}, base + "/TccOutTry", base + "/TccOutConfirm",
                  base + "/TccOutCancel")
    t.call_branch({"amount": 30}, base + "/TccRefuseTry", base + "/TccInConfirm",
                  base + "/TccInCancel")

gid = utils.gen_gid(dtm)
check("tcc rolled back", tcc.tcc_global_transaction(dtm, gid, refused) == "")
status(gid, "failed")
print("tcc-rolled-back " + gid, flush=True)

# msg: prepare, then submit.
gid = utils.gen_gid(dtm)
m = msg.Msg(dtm, gid).add({"amount": 5}, base + "/Credit")
m.prepare(base + "/QueryPrepared")
m.submit()
status(gid, "succeed")
check("msg prepare + submit", True)

# msg: do_and_submit_db, the local transaction on MariaDB with DTM's barrier.
def order(gid, refuse):
    def business(cursor):
        cursor.execute("INSERT INTO peer_orders (gid) VALUES (%s)", (gid,))
        if refuse:
            raise utils.DTMFailureError("out of stock")
    conn = pymysql.connect(**mysql)
    m = msg.Msg(dtm, gid).add({"amount": 7}, base + "/Credit")
    try:
        m.do_and_submit_db(base + "/QueryPrepared", conn.cursor(), business)
    finally:
        conn.close()

gid = utils.gen_gid(dtm)
order(gid, refuse=False)
status(gid, "succeed")
check("msg do_and_submit_db", True)
print("msg-committed " + gid, flush=True)

gid = utils.gen_gid(dtm)
try:
    order(gid, refuse=True)
    check("msg do_and_submit_db refused raises", False)
except utils.DTMFailureError:
    check("msg do_and_submit_db refused raises", True)
status(gid, "failed")
print("msg-refused " + gid, flush=True)

if failures:
    print("FAILURES: " + "; ".join(failures), flush=True)
    sys.exit(1)
print("all ok", flush=True)

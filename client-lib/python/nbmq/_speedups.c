/* SPDX-License-Identifier: ISC */
/*
 * _speedups.c: Socket.send() and Socket.recv()'s common case in C, for
 * the nbmq Python binding.  Optional: without it the binding does the
 * same through ctypes (core.py), at about three times the cost a call.
 *
 * Measured (README, Python): a ctypes call converts and checks each of
 * its arguments in the interpreter, so recv() through nbmq_recvbuf cost
 * 1.1-1.2 us a message where pyzmq's Cython recv costs 0.25-0.3; the C
 * library's own work in it was 6%.  Here the same call is one METH_FASTCALL
 * with the arguments taken as they come.
 *
 * It does not link libnbmq: init() is handed the addresses of the
 * functions from the library ctypes loaded ($NBMQ_LIBRARY or
 * libnbmq.so.0), so both paths always run the same library.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <stdint.h>
#include <sys/types.h>

typedef ssize_t	(*recvbuf_fn)(void *, void *, size_t, uint64_t *, int);
typedef int	(*send_fn)(void *, const void *, size_t, int);

static recvbuf_fn	 p_recvbuf;
static send_fn		 p_send;

/* init(nbmq_recvbuf, nbmq_send): the functions, as addresses. */
static PyObject *
sp_init(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	void	*r, *s;

	(void)self;
	if (nargs != 2) {
		PyErr_SetString(PyExc_TypeError, "init(recvbuf, send)");
		return NULL;
	}
	if ((r = PyLong_AsVoidPtr(args[0])) == NULL ||
	    (s = PyLong_AsVoidPtr(args[1])) == NULL) {
		if (!PyErr_Occurred())
			PyErr_SetString(PyExc_ValueError, "a NULL function");
		return NULL;
	}
	p_recvbuf = (recvbuf_fn)r;
	p_send = (send_fn)s;
	Py_RETURN_NONE;
}

/*
 * recv(sock, buf, size, flags): nbmq_recvbuf into buf (an address, the
 * socket's own buffer), then (bytes, peer); an int, the errno, when it
 * failed (the caller decides: EMSGSIZE and ENOMSG take the general path).
 * The GIL is released around the call, which may block.
 */
static PyObject *
sp_recv(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	PyObject	*data, *peer, *t;
	void		*sock, *buf;
	Py_ssize_t	 size;
	uint64_t	 id = 0;
	ssize_t		 k;
	int		 flags, e;

	(void)self;
	if (nargs != 4 || p_recvbuf == NULL) {
		PyErr_SetString(PyExc_TypeError,
		    "recv(sock, buf, size, flags) after init()");
		return NULL;
	}
	sock = PyLong_AsVoidPtr(args[0]);
	buf = PyLong_AsVoidPtr(args[1]);
	size = PyLong_AsSsize_t(args[2]);
	flags = (int)PyLong_AsLong(args[3]);
	if (PyErr_Occurred())
		return NULL;
	if (sock == NULL || buf == NULL || size < 0) {
		PyErr_SetString(PyExc_ValueError, "recv: bad arguments");
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS
	k = p_recvbuf(sock, buf, (size_t)size, &id, flags);
	e = errno;
	Py_END_ALLOW_THREADS
	if (k < 0)
		return PyLong_FromLong(e);
	if ((data = PyBytes_FromStringAndSize(buf, k)) == NULL)
		return NULL;
	if ((peer = PyLong_FromUnsignedLongLong(id)) == NULL) {
		Py_DECREF(data);
		return NULL;
	}
	if ((t = PyTuple_New(2)) == NULL) {
		Py_DECREF(data);
		Py_DECREF(peer);
		return NULL;
	}
	PyTuple_SET_ITEM(t, 0, data);
	PyTuple_SET_ITEM(t, 1, peer);
	return t;
}

/*
 * send(sock, data, flags): nbmq_send of a bytes object (the caller takes
 * other buffers the general way); 0, or the errno.  The GIL is released
 * around the call (a blocking send waits for room); data stays alive, as
 * the caller holds it.
 */
static PyObject *
sp_send(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	void		*sock;
	const char	*p;
	Py_ssize_t	 len;
	int		 flags, r, e;

	(void)self;
	if (nargs != 3 || p_send == NULL || !PyBytes_Check(args[1])) {
		PyErr_SetString(PyExc_TypeError,
		    "send(sock, bytes, flags) after init()");
		return NULL;
	}
	sock = PyLong_AsVoidPtr(args[0]);
	flags = (int)PyLong_AsLong(args[2]);
	if (PyErr_Occurred())
		return NULL;
	if (sock == NULL) {
		PyErr_SetString(PyExc_ValueError, "send: no socket");
		return NULL;
	}
	p = PyBytes_AS_STRING(args[1]);
	len = PyBytes_GET_SIZE(args[1]);
	Py_BEGIN_ALLOW_THREADS
	r = p_send(sock, p, (size_t)len, flags);
	e = errno;
	Py_END_ALLOW_THREADS
	return PyLong_FromLong(r == 0 ? 0 : e);
}

static PyMethodDef sp_methods[] = {
	{ "init", (PyCFunction)(void (*)(void))sp_init, METH_FASTCALL,
	  "init(recvbuf, send): the library's functions, as addresses" },
	{ "recv", (PyCFunction)(void (*)(void))sp_recv, METH_FASTCALL,
	  "recv(sock, buf, size, flags) -> (bytes, peer) or errno" },
	{ "send", (PyCFunction)(void (*)(void))sp_send, METH_FASTCALL,
	  "send(sock, data, flags) -> 0 or errno" },
	{ NULL, NULL, 0, NULL }
};

static struct PyModuleDef sp_module = {
	PyModuleDef_HEAD_INIT, "nbmq._speedups",
	"Socket.send() and recv()'s common case in C (optional).", -1,
	sp_methods, NULL, NULL, NULL, NULL
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
	return PyModule_Create(&sp_module);
}
